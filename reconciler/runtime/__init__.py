"""Running the controller: the loop (events, debounce, resync), leader election, health,
metrics and logs."""
