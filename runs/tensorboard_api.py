"""TensorBoard routes for the SDK's `Tensorboard([run]).start()` and `.stop()`."""

from __future__ import annotations

from ninja import Router, Schema, Status

from runs import tensorboards
from workspaces.auth import request_token

router = Router(tags=["tensorboard"])


class TensorboardIn(Schema):
    run_ids: list[str]


class TensorboardOut(Schema):
    id: str
    path: str
    run_ids: list[str]


def _out(board: tensorboards.Board) -> dict:
    return {"id": board.key, "path": board.path, "run_ids": list(board.run_ids)}


@router.post("/workspaces/{ws}/tensorboards", response=TensorboardOut)
def tensorboard_start(request, ws: str, body: TensorboardIn):
    """Start a TensorBoard over the runs' logs, or return the one already serving them."""
    board = tensorboards.tensorboard_open(
        user=request.user, workspace_name=ws, run_ids=body.run_ids, token=request_token(request)
    )
    return _out(board)


@router.delete("/workspaces/{ws}/tensorboards/{board_id}", response={204: None})
def tensorboard_stop(request, ws: str, board_id: str):
    tensorboards.tensorboard_stop(
        user=request.user, workspace_name=ws, key=board_id, token=request_token(request)
    )
    return Status(204, None)
