from tests.cluster_fixtures import cluster, fast_offline, start_node  # noqa: F401
