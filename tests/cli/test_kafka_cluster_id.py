"""The nodes of a cluster start in parallel and must all be formatted with one cluster id."""

from __future__ import annotations

import threading
from pathlib import Path

from cli.kafka import shared_cluster_id


def test_nodes_starting_at_once_share_one_id(tmp_path: Path):
    path = tmp_path / "kafka" / "cluster-id"
    # The race was a check for the file, then a write: the old code gave two ids in about
    # 2 % of such rounds.
    for round_ in range(200):
        path.unlink(missing_ok=True)
        ids = _ids_of_nodes_starting_together(path, nodes=3)
        assert len(set(ids)) == 1 and len(ids[0]) == 22, (round_, ids)
    assert [p.name for p in path.parent.iterdir()] == ["cluster-id"]  # no drafts left


def _ids_of_nodes_starting_together(path: Path, *, nodes: int) -> list[str]:
    start = threading.Barrier(nodes)
    ids: list[str] = []

    def node() -> None:
        start.wait()
        ids.append(shared_cluster_id(path))

    threads = [threading.Thread(target=node) for _ in range(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids


def test_a_kept_id_is_read_not_replaced(tmp_path: Path):
    path = tmp_path / "cluster-id"
    path.write_text("MkU3OEVBNTcwNTJENDM2Qg\n")
    assert shared_cluster_id(path) == "MkU3OEVBNTcwNTJENDM2Qg"
