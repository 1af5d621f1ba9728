"""The demo a new user runs first (``smets-emu demo``, ``make demo``): one premises on an
SMWAN, driven by a head-end, every step printed with its decoded result.

1. a broker: the embedded one (amqtt) on a free port, unless one is given;
2. a test PKI (the remote parties' and the devices' certificates) and one premises — CHF,
   GPF, electricity and gas meters, a display — commissioned on its HAN;
3. the supplier's use cases through the head-end: read the electricity registers, set a
   tariff, add credit, read the half-hourly profile, read the gas register;
4. a four-minute mains outage in virtual time: the electricity meter's "supply restored
   after three minutes or more" alerts reach the network operator and the supplier.

Every response is checked (signature or MAC) before it is shown; a step that fails stops
the demo with a non-zero exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gbcs
from gbcs.describe import Description, describe, to_text
from gbcs.dlms import decode_apdu, decode_data, walk
from gbcs.errors import GbcsError
from gbcs.reader import Reader
from gbcs.types import DeviceType, Role

from .errors import EmulatorError, LinkDown, NoResponse
from .headend import HeadEnd
from .site import Site, SiteConfig
from .wan.link import Broker

__all__ = ["DemoFailed", "run_demo"]

OUTAGE = timedelta(minutes=4)
_ALERTS = {0x8F35: "supply restored", 0x8F36: "supply restored after an outage of three minutes or more"}
_MAX_LINES = 14  # of each decoded response: enough to see its shape, not a screenful


class DemoFailed(EmulatorError):
    """A demo step did not get the answer it should."""


@dataclass
class DemoResult:
    steps: list[tuple[str, bool]] = field(default_factory=list)
    alerts: list[gbcs.Frame] = field(default_factory=list)


async def run_demo(state: Path | None = None, broker: Broker | None = None, *,
                   say: Callable[[str], None] = print, now: datetime | None = None) -> DemoResult:  # fmt: skip
    """Run the demo; ``say`` prints each line.

    Raises:
        DemoFailed: a step went wrong (the message says which);
        LinkDown: the broker given cannot be reached; NoResponse: a response or alert never came.
    """
    with contextlib.ExitStack() as stack:
        if state is None:
            state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smets-emu-demo-")))
        async with _broker(broker, say) as url:
            return await _scenario(state, url, say, now or datetime.now(timezone.utc).replace(microsecond=0))
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.asynccontextmanager
async def _broker(broker: Broker | None, say: Callable[[str], None]) -> AsyncIterator[Broker]:
    if broker is not None:
        say(f"1. broker: {broker.url} (given)")
        yield broker
        return
    from .wan.broker import EmbeddedBroker

    async with EmbeddedBroker() as embedded:
        say(f"1. broker: embedded amqtt at {embedded.url}")
        yield embedded


async def _scenario(state: Path, broker: Broker, say: Callable[[str], None], now: datetime) -> DemoResult:
    # An hour of virtual time a real second: the sleepy gas meter, awake every half hour, answers within a second.
    site = Site.open(SiteConfig(premises=1, state=state / "state", start=now, speed=3600))
    result = DemoResult()
    premises = site.hub(1)
    hub = premises.chf.eui
    say(f"2. test PKI in {site.pki.directory}: {len(site.pki.entries())} certificates")
    for eui, kind in premises.config.devices.items():
        say(f"   {kind.name:<5} {eui}  {premises.devices[eui].lifecycle}")
    esme, gsme = (premises.config.of_type(kind)[0] for kind in (DeviceType.ESME, DeviceType.GSME))
    if not premises.mains_on:
        say("   the mains were off (an earlier run stopped mid-outage): restored first")
        premises.restore_mains()
    ready = asyncio.Event()
    runner = asyncio.create_task(site.run(broker, ready=ready))
    try:
        try:
            await asyncio.wait_for(ready.wait(), 15)
        except TimeoutError:
            raise LinkDown(f"the hub could not reach the broker at {broker.url} within 15 s") from None
        say(f"   hub {hub} on the SMWAN: commands on smwan/{bytes(hub).hex().upper()}/down, answers on .../up")
        head_end = HeadEnd(site.pki.keystore(), counters=state / "state" / "head-end.json")  # a rerun goes on counting
        async with head_end.connect(broker, identifier=None, persistent=False) as wan:
            start = site.clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
            steps = [
                ("read the electricity import registers", "ECS17b", esme, {}),
                ("set a time-of-use tariff, 24.12p/kWh, standing charge 45p/day", "ECS01a", esme,
                 {"tou_prices": "0.2412", "standing_charge": "0.45", "price_scale": -4}),
                ("add £10.00 of credit", "ECS04a", esme, {"amount": "10.00"}),
                ("read the half-hourly import profile, the last six hours", "ECS22b", esme,
                 {"start": start.isoformat(), "end": site.clock.now().isoformat()}),
                ("read the gas consumption register (the gas meter wakes to answer)", "GCS13a", gsme, {}),
            ]  # fmt: skip
            for number, (title, use_case, recipient, params) in enumerate(steps, start=3):
                say(f"{number}. {use_case}: {title}")
                reply = await wan.send(hub, use_case, recipient, params, timeout=30)
                _show(reply, say)
                if not reply.passes_check or _failed_results(reply):
                    raise DemoFailed(f"{use_case}: the response did not check out")
                result.steps.append((use_case, True))
            result.alerts = await _outage(site, wan, say, number=len(steps) + 3)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        site.close()
    say("done: every response verified; the outage alerts reached both parties")
    return result


async def _outage(site: Site, wan, say: Callable[[str], None], *, number: int) -> list[gbcs.Frame]:  # noqa: ANN001
    premises = site.hub(1)
    say(f"{number}. mains cut for {int(OUTAGE.total_seconds() // 60)} minutes of virtual time")
    while not wan.unsolicited.empty():  # only this outage's alerts count
        wan.unsolicited.get_nowait()
    premises.cut_mains()
    site.clock.advance(OUTAGE)
    premises.restore_mains()
    head_end = HeadEnd(site.pki.keystore())
    roles = {head_end.party(role): role for role in (Role.SUPPLIER, Role.NETWORK_OPERATOR)}
    meter = premises.config.of_type(DeviceType.ESME)[0]
    alerts = []
    while len(alerts) < len(roles):
        try:
            data = await asyncio.wait_for(wan.unsolicited.get(), 30)
        except TimeoutError:
            raise NoResponse(f"{len(alerts)} of the {len(roles)} outage alerts arrived within 30 s") from None
        description = describe(data, "alert", site.pki.keystore())
        frame = description.message
        if not isinstance(frame, gbcs.Frame) or frame.originator != meter or frame.other_information.message_code != 0x0067:
            continue  # not this outage's alert
        code = decode_apdu(frame.content).value.value[0].value
        if frame.recipient not in roles or not description.passes_check:
            raise DemoFailed(f"an outage alert to {frame.recipient} did not check out")
        say(f"   alert {code:04X} ({_ALERTS.get(code, 'unexpected')}) from {frame.originator} to the "
            f"{roles[frame.recipient].name.replace('_', ' ').lower()} {frame.recipient}, signature {description.signature.name}")  # fmt: skip
        alerts.append(frame)
    if {frame.recipient for frame in alerts} != set(roles):
        raise DemoFailed("the outage alerts did not reach both the supplier and the network operator")
    return alerts


def _failed_results(reply: Description) -> bool:
    payload = reply.to_json().get("payload") or {}
    return any(result.get("result") != 0 for result in payload.get("results", []))


def _show(reply: Description, say: Callable[[str], None]) -> None:
    """A response in brief: who answered, that it checked out, and its decoded payload."""
    frame = reply.message
    checks = ", ".join(f"{name} {check.name.lower()}" for name, check in (("signature", reply.signature), ("MAC", reply.mac))
                       if frame is not None and check.name != "ABSENT")  # fmt: skip
    say(f"   response from {frame.originator if frame else '?'}, counter {frame.originator_counter if frame else '?'}: {checks}")
    summary = _summary(reply)
    if summary:
        say(f"   {summary}")
        return
    lines = to_text(reply).splitlines()
    decoded = next((index for index, line in enumerate(lines) if "decoded payload" in line), len(lines))
    payload = [line for line in lines[decoded + 1:] if line.strip()]
    for line in payload[:_MAX_LINES]:
        say("  " + line)
    if len(payload) > _MAX_LINES:
        say(f"     … {len(payload) - _MAX_LINES} more lines (smets-emu send … --json prints everything)")


def _summary(reply: Description) -> str | None:
    """One line for a response: the values inside its encrypted block (what a protected read
    carries), its GBZ attributes, or its DLMS results; None for anything else (a tree)."""
    for block in reply.encrypted_blocks:
        if block.kind == "dlms" and block.plaintext is not None:
            try:
                inner = decode_data(Reader(block.plaintext))
            except GbcsError:
                return None
            numbers = [leaf.value for leaf in walk(inner) if isinstance(leaf.value, int) and not isinstance(leaf.value, bool)]
            shown = ", ".join(map(str, numbers[:12])) + (" …" if len(numbers) > 12 else "")
            return f"decrypted {len(block.plaintext)} bytes: {len(numbers)} values: {shown}"
    payload = reply.to_json().get("payload") or {}
    if payload.get("format") == "gbz":
        fields = [component.get("fields") for component in payload.get("components", [])]
        pairs = [f"{item['attribute']}={item.get('value')}" for group in fields if isinstance(group, list) for item in group]
        pairs += [f"{key}={value}" for group in fields if isinstance(group, dict) for key, value in group.items()]
        return ", ".join(pairs) or None
    results = payload.get("results") or []
    if results:
        names = sorted({result["result_name"] for result in results})
        return f"{len(results)} attribute(s) and method(s): {', '.join(names)}"
    return None
