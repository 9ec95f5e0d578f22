"""Control with a human in the loop: request a command, have a second person approve it, see what happened.

Who may do what:
- viewers read the allow-list and the requests (what is pending on the line is no secret on the shop floor);
- engineers (and admins) request, approve and reject; nobody approves their own request (four eyes), and a
  request is rejected or withdrawn by anyone who may approve it, its requester included;
- the audit log is for engineers and admins: it names people and what they did.
A scoped caller sees and acts on the assets inside their scope only.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from twin.api.deps import CommandsDep, ConfigDep, EquipmentDep, TwinDep
from twin.auth import Principal, check_scope, require
from twin.commands import PENDING, CommandBook

router = APIRouter(prefix="/api", tags=["control"])
CommandId = Annotated[int, Path(ge=1, le=2**62)]

class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str = Field(min_length=1, description="ISA-95 path of the asset")
    command: str = Field(min_length=1, description="a command of the allow-list (GET /api/commands/allowed)")
    value: bool | int | float | None = Field(None, description="the value to write or the method's argument")
    reason: str = Field(min_length=1, max_length=2000, description="why: shown to the approver and kept in the audit")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=2000)


def _book(book: CommandBook) -> CommandBook:
    """The book with overdue requests expired: every answer says what holds now."""
    book.expire_due(time.time())
    return book


def _unprocessable(field: str, msg: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", field], "type": "value_error", "msg": msg}])


@router.get("/commands/allowed")
async def allowed(config: ConfigDep, caller: Annotated[Principal, Depends(require("viewer"))],
                  asset: str | None = None) -> list[dict[str, Any]]:
    """The allow-list; with `asset`, the commands allowed on that asset."""
    control = config.control
    if control is None:
        return []
    if asset is not None:
        check_scope(caller, asset)
    return [c.as_dict() for c in control.commands if asset is None or c.allows(asset)]


@router.post("/commands", status_code=201)
async def request_command(body: CommandRequest, config: ConfigDep, twin: TwinDep, commands: CommandsDep,
                          caller: Annotated[Principal, Depends(require("engineer"))]) -> dict[str, Any]:
    """Ask for a command; it waits, pending, for another engineer's approval (or expires)."""
    control = config.control
    if body.asset not in twin.assets:
        raise _unprocessable("asset", f"{body.asset!r} is not an asset of the plant model")
    check_scope(caller, body.asset)
    spec = control.command(body.command) if control is not None else None
    if spec is None:
        names = [c.name for c in control.commands] if control is not None else []
        raise _unprocessable("command", f"{body.command!r} is not in the allow-list" +
                             (f" (allowed: {names})" if names else " (no commands are configured)"))
    if not spec.allows(body.asset):
        raise _unprocessable("asset", f"{body.command} is not allowed on {body.asset} (only on {spec.assets})")
    value, problem = spec.check(body.value)
    if problem is not None:
        raise _unprocessable("value", problem)
    assert control is not None
    book = _book(commands)
    command_id = book.request(body.asset, spec.name, value, body.reason, caller.identity, time.time(),
                              control.request_ttl_s)
    return book.get(command_id) or {}


@router.post("/commands/{command_id}/approve")
async def approve(command_id: CommandId, body: Decision, config: ConfigDep, commands: CommandsDep,
                  equipment: EquipmentDep, caller: Annotated[Principal, Depends(require("engineer"))]
                  ) -> dict[str, Any]:
    """Approve and execute at once; the answer carries the equipment's response (executed or failed)."""
    book = _book(commands)
    command = _pending(book, command_id, caller)
    if command["requested_by"] == caller.identity:
        why = f"{caller.identity} requested command {command_id}: another engineer must approve it"
        book.refused(command_id, caller.identity, why, time.time())
        raise HTTPException(403, why)
    control = config.control
    spec = control.command(command["command"]) if control is not None else None
    if spec is None:  # the allow-list changed since the request
        raise HTTPException(409, f"{command['command']!r} is no longer in the allow-list")
    if not book.decide(command_id, True, caller.identity, body.comment, time.time()):
        raise HTTPException(409, f"command {command_id} is no longer pending")
    started = time.perf_counter()
    assert equipment is not None  # a control: section configures both the allow-list and the equipment
    outcome = await equipment.send(command["asset"], spec, command["value"])
    latency_ms = (time.perf_counter() - started) * 1000
    book.executed(command_id, outcome.ok, outcome.result, outcome.status, caller.identity, time.time(), latency_ms)
    return book.get(command_id) or {}


@router.post("/commands/{command_id}/reject")
async def reject(command_id: CommandId, body: Decision, commands: CommandsDep,
                 caller: Annotated[Principal, Depends(require("engineer"))]) -> dict[str, Any]:
    book = _book(commands)
    _pending(book, command_id, caller)
    if not book.decide(command_id, False, caller.identity, body.comment, time.time()):
        raise HTTPException(409, f"command {command_id} is no longer pending")
    return book.get(command_id) or {}


def _pending(book: CommandBook, command_id: int, caller: Principal) -> dict[str, Any]:
    command = book.get(command_id)
    if command is None:
        raise HTTPException(404, f"no command {command_id}")
    check_scope(caller, command["asset"])
    if command["state"] != PENDING:
        raise HTTPException(409, f"command {command_id} is {command['state']}, not pending")
    return command


@router.get("/commands")
async def list_commands(commands: CommandsDep, caller: Annotated[Principal, Depends(require("viewer"))],
                        state: Annotated[str | None, Query(pattern="^(pending|approved|rejected|expired|executed|"
                                                                   "failed)$")] = None,
                        asset: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Newest first."""
    return [c for c in _book(commands).list(state=state, asset=asset, limit=limit) if caller.sees(c["asset"])]


@router.get("/commands/{command_id}")
async def get_command(command_id: CommandId, commands: CommandsDep,
                      caller: Annotated[Principal, Depends(require("viewer"))]) -> dict[str, Any]:
    command = _book(commands).get(command_id)
    if command is None:
        raise HTTPException(404, f"no command {command_id}")
    check_scope(caller, command["asset"])
    return command


@router.get("/audit")
async def audit(commands: CommandsDep, caller: Annotated[Principal, Depends(require("engineer"))],
                command_id: Annotated[int | None, Query(ge=1, le=2**62)] = None, who: str | None = None,
                before: Annotated[int | None, Query(ge=1, le=2**62, description="entries before this seq (paging)")
                                  ] = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    """Every request, decision, expiry and result, newest first; append-only in the database."""
    entries = _book(commands).audit(command_id=command_id, who=who, limit=limit, before=before)
    return [e for e in entries if e["asset"] is None or caller.sees(e["asset"])]
