"""Kubernetes access: the one package that talks to the official kubernetes client.

The contracts it implements (``ClusterState``, ``StatusWriter``, ``EventRecorder``, ...) and the raw
JSON types belong to the core (:mod:`reconciler.model.cluster`, :mod:`reconciler.model.k8s_json`).
The implementations live in submodules the composition root imports:

- ``reconciler.kube.client``: ``load_client`` and ``KubeClient`` (raw JSON, typed errors);
- ``reconciler.kube.cache``: ``ClusterCache``/``WatchCache`` (list + watch; a ClusterState);
- ``reconciler.kube.writer``: ``KubeWriter`` (status patches, server-side apply);
- ``reconciler.kube.events``: ``KubeEventRecorder`` (Events with series de-duplication);
- ``reconciler.kube.fleet_objects``: applying, listing and deleting a fleet's objects;
- ``reconciler.kube.service_status``: fleet Service status and finalizers (elbv2 mode);
- ``reconciler.kube.lease``: the leader-election Lease store;
- ``reconciler.kube.fake``: ``FakeCluster``, the in-memory double for unit tests.
"""
