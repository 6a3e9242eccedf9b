"""fieldslave: a misbehaving-on-purpose Modbus slave for the integration tests.

    /usr/bin/python3 fieldslave.py (--tcp PORT | --rtu DEVICE [--baud 9600]
        [--parity N|E|O] [--stopbits 1|2] [--char-timing]) [--side-port P]
        --units 1,2,3 --ctl FILE --log FILE

Serves the given unit ids, each with 1000 coils, discrete inputs, holding and
input registers (zero-based), over Modbus TCP on 127.0.0.1:PORT or Modbus RTU
on a serial device (one end of a socat pty pair). A second, always-honest
Modbus TCP server on 127.0.0.1:--side-port shares the datastore, so a test can
write values as a second master even when the main server is RTU. Port 0
means "any free port"; the ports in use are printed before the ready line:

    fieldslave: listening main=tcp:PORT|rtu:DEVICE side=tcp:PORT
    fieldslave: ready

Control file (--ctl): appended lines, one command each, read every 20 ms and
again before every request, so a line appended before a request was sent is
in force when that request is handled:

    dead UNIT | alive UNIT        swallow every request to UNIT (no reply)
    delay UNIT MS                 send UNIT's replies MS ms late (0 = normal)
    exception UNIT CODE           answer every request to UNIT with exception
                                  CODE (1..11); CODE 0 clears
    garble UNIT | short UNIT      corrupt the last byte of UNIT's replies (a CRC
                                  error on RTU) | send only half of each reply;
                                  `clean UNIT` ends either
    hang | unhang                 answer nothing on the main server (meant for
                                  TCP: connections are still accepted)
    set UNIT KIND ADDR VALUE...   KIND holding|input|coil|discrete; raw words
                                  or 0/1 bits

Bad lines are reported on stderr and ignored. Request log (--log): one line
per request received on the main server, swallowed ones included, flushed:
"MONOTONIC_TIME UNIT FUNCTION_CODE ADDRESS COUNT" (CLOCK_MONOTONIC, seconds,
comparable with time.monotonic() in the test process).

How the faults sit on pymodbus 3.0.0rc1 (Debian 12): servers, framing,
decoding and the datastore are stock pymodbus; nothing speaks raw Modbus. The
hook is ModbusBaseRequestHandler.execute(), the one method where the stock
server turns a decoded request into a reply and sends it. FaultyHandler (a
mixin on the stock TCP and serial handlers) replaces it: log the request;
dead unit or hang -> return without sending; exception -> ExceptionResponse;
else request.execute(slave context) as stock. The encoded reply is written at
once or, for delay and --char-timing, queued and sent by loop.call_at, always
in request order per connection/line. The side door is a stock
ModbusTcpServer whose handler only re-reads the control file first.
Two small framer subclasses (the only byte-level code) accept every unit id,
so requests for units not served still reach execute() and are logged (RTU:
no answer, as on a real line; TCP: exception 0x0B, as a TCP/RTU gateway
answers), and fix two stock habits: the TCP framer drops a request split
across TCP segments (or disconnects on a split header), so whole ADUs are
reassembled first; the RTU framer never resynchronises on line silence, so a
gap longer than max(t3.5, 20 ms) discards a stale partial frame.

--char-timing (RTU): a pty moves bytes instantly, so the reply is held back
until the moment its last byte would arrive on a real line: request wire time
+ t3.5 (the slave only knows the request ended after 3.5 silent characters)
+ 5 ms turnaround + reply wire time, at 11 bits per character (t3.5 fixed at
1.75 ms above 19200 baud). That is the domain README's transaction time minus
the master's own t3.5 before its next request.

Limits worth knowing: a Linux pty ignores baud rate and parity (on this
kernel a tcsetattr whose only change is PARENB fails with EINVAL), so
--baud/--parity/--stopbits configure the port and the timing model only; if
the port cannot be opened with the parity asked for, it is opened with N and
a note goes to stderr.
"""
import argparse
import asyncio
import collections
import logging
import signal
import sys
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.pdu import ExceptionResponse
from pymodbus.server.async_io import (
    ModbusConnectedRequestHandler,
    ModbusSerialServer,
    ModbusSingleRequestHandler,
    ModbusTcpServer,
)

SIZE = 1000
KINDS = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}  # pymodbus store function codes
CTL_POLL = 0.02
TURNAROUND = 0.005
GATEWAY_NO_RESPONSE = 0x0B
SLAVE_FAILURE = 0x04


def note(msg):
    print("fieldslave: " + msg, file=sys.stderr, flush=True)


class Faults:
    """The state the control file sets, the served units and the request log."""

    def __init__(self, context, units, ctl_path, log_path):
        self.context, self.units = context, set(units)
        self.dead, self.delay, self.exception, self.hang = set(), {}, {}, False
        self.mangle = {}  # unit -> "garble" | "short"
        open(ctl_path, "ab").close()
        self.ctl = open(ctl_path, "rb", buffering=0)
        self.partial = b""
        self.log = open(log_path, "a", buffering=1)  # line buffered: flushed per request

    def record(self, request):
        address = getattr(request, "address", None)
        if address is None:
            address = getattr(request, "read_address", 0)
        count = getattr(request, "count", None)
        if count is None:
            count = getattr(request, "read_count", None)
        if count is None:
            values = getattr(request, "values", None)
            count = len(values) if values is not None else 1
        self.log.write("%.6f %d %d %d %d\n" % (time.monotonic(), request.unit_id,
                                              request.function_code, address, count))

    def poll(self):
        data = self.ctl.readall()
        if not data:
            return
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            if line and not line.startswith("#"):
                try:
                    self.apply(line.split())
                except (ValueError, IndexError) as exc:
                    note("ctl: ignored '%s': %s" % (line, exc))

    def apply(self, w):
        def unit(s):
            u = int(s)
            if not 0 <= u <= 255:
                raise ValueError("unit %d out of range" % u)
            return u

        cmd, n = w[0], len(w)
        if cmd in ("hang", "unhang") and n == 1:
            self.hang = cmd == "hang"
        elif cmd == "dead" and n == 2:
            self.dead.add(unit(w[1]))
        elif cmd == "alive" and n == 2:
            self.dead.discard(unit(w[1]))
        elif cmd == "delay" and n == 3:
            ms = int(w[2])
            if ms < 0:
                raise ValueError("negative delay")
            self.delay[unit(w[1])] = ms / 1000.0
        elif cmd == "exception" and n == 3:
            code = int(w[2])
            if not 0 <= code <= 11:
                raise ValueError("exception code must be 0..11")
            self.exception[unit(w[1])] = code
        elif cmd in ("garble", "short") and n == 2:
            self.mangle[unit(w[1])] = cmd
        elif cmd == "clean" and n == 2:
            self.mangle.pop(unit(w[1]), None)
        elif cmd == "set" and n >= 5:
            self.set_values(unit(w[1]), w[2], int(w[3]), [int(v) for v in w[4:]])
        else:
            raise ValueError("unknown command or wrong number of arguments")

    def set_values(self, u, kind, addr, values):
        if u not in self.units:
            raise ValueError("unit %d is not served" % u)
        if kind not in KINDS:
            raise ValueError("kind must be one of " + "|".join(KINDS))
        top = 1 if kind in ("coil", "discrete") else 0xFFFF
        if any(not 0 <= v <= top for v in values):
            raise ValueError("values must be 0..%d" % top)
        if addr < 0 or addr + len(values) > SIZE:
            raise ValueError("address range outside 0..%d" % (SIZE - 1))
        self.context[u].setValues(KINDS[kind], addr, values)


class FaultyHandler:
    """Mixin replacing ModbusBaseRequestHandler.execute() for the main server."""

    silent_unknown_units = False  # RTU: a missing slave never answers

    def __init__(self, owner):
        super().__init__(owner)
        self.outbox = collections.deque()  # (when, packet): late replies, in order

    def execute(self, request, *addr):
        faults = self.server.faults
        faults.poll()
        faults.record(request)
        unit = request.unit_id
        if faults.hang or unit in faults.dead:
            return
        code = faults.exception.get(unit, 0)
        if unit not in faults.units:
            if self.silent_unknown_units:
                return
            code = GATEWAY_NO_RESPONSE
        if code:
            response = ExceptionResponse(request.function_code, code)
        else:
            try:
                response = request.execute(self.server.context[unit])
            except Exception as exc:  # pylint: disable=broad-except
                note("request %r failed: %s" % (request, exc))
                response = ExceptionResponse(request.function_code, SLAVE_FAILURE)
        response.transaction_id = request.transaction_id
        response.unit_id = unit
        packet = self.framer.buildPacket(response)
        mangle = faults.mangle.get(unit)
        if mangle == "garble":
            packet = packet[:-1] + bytes([packet[-1] ^ 0xFF])
        elif mangle == "short":
            packet = packet[:len(packet) // 2]
        self.reply(packet, faults.delay.get(unit, 0.0) + self.wire_time(request, packet))

    def wire_time(self, request, packet):  # pylint: disable=unused-argument
        return 0.0

    def reply(self, packet, delay):
        """Send now, or at now + DELAY but never before an earlier reply: one
        line or connection carries replies in the order of the requests."""
        loop = asyncio.get_running_loop()
        if not self.outbox and delay <= 0:
            self._send_(packet)
            return
        when = loop.time() + delay
        if self.outbox:
            when = max(when, self.outbox[-1][0])
        self.outbox.append((when, packet))
        if len(self.outbox) == 1:
            loop.call_at(when, self._drain)

    def _drain(self):
        loop = asyncio.get_running_loop()
        while self.outbox and self.outbox[0][0] <= loop.time() + 0.0005:
            packet = self.outbox.popleft()[1]
            if self.running and self.transport is not None and not self.transport.is_closing():
                self._send_(packet)
        if self.outbox:
            loop.call_at(self.outbox[0][0], self._drain)


class FaultyTcpHandler(FaultyHandler, ModbusConnectedRequestHandler):
    pass


class FaultyRtuHandler(FaultyHandler, ModbusSingleRequestHandler):
    silent_unknown_units = True
    last_rx = 0.0

    def data_received(self, data):
        # a real slave starts a new frame after 3.5 silent characters
        now = time.monotonic()
        if now - self.last_rx > self.server.frame_gap and self.receive_queue.empty():
            self.framer.resetFrame()
        self.last_rx = now
        super().data_received(data)

    def wire_time(self, request, packet):
        srv = self.server
        if not srv.char_timing:
            return 0.0
        request_len = len(request.encode()) + 4  # unit, function, CRC
        return (request_len + len(packet)) * srv.char_time + srv.t35 + TURNAROUND


class SideHandler(ModbusConnectedRequestHandler):
    """The honest side door: stock behaviour, but sees control-file sets first."""

    def execute(self, request, *addr):
        self.server.faults.poll()
        super().execute(request, *addr)


class AnyUnitSocketFramer(ModbusSocketFramer):
    """Accepts every unit id; hands the stock framer whole ADUs only."""

    def __init__(self, decoder, client=None):
        super().__init__(decoder, client)
        self.pending = b""

    def _validate_unit_id(self, units, single):
        return True

    def processIncomingPacket(self, data, callback, unit, **kwargs):
        self.pending += data
        while len(self.pending) >= 6:
            size = 6 + int.from_bytes(self.pending[4:6], "big")
            if len(self.pending) < size:
                break
            adu, self.pending = self.pending[:size], self.pending[size:]
            super().processIncomingPacket(adu, callback, unit, **kwargs)


class AnyUnitRtuFramer(ModbusRtuFramer):
    def _validate_unit_id(self, units, single):
        return True


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    main = ap.add_mutually_exclusive_group(required=True)
    main.add_argument("--tcp", type=int, metavar="PORT")
    main.add_argument("--rtu", metavar="DEVICE")
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--parity", choices="NEO", default="N")
    ap.add_argument("--stopbits", type=int, choices=(1, 2), default=1)
    ap.add_argument("--char-timing", action="store_true")
    ap.add_argument("--side-port", type=int, default=0)
    ap.add_argument("--units", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args(argv)
    try:
        a.units = sorted({int(u) for u in a.units.split(",")})
    except ValueError:
        ap.error("--units takes a comma-separated list of unit ids")
    if any(not 0 <= u <= 255 for u in a.units):
        ap.error("unit ids are 0..255")
    if a.char_timing and not a.rtu:
        ap.error("--char-timing is for --rtu only")
    return a


def make_context(units):
    def block():
        return ModbusSequentialDataBlock(0, [0] * SIZE)

    slaves = {u: ModbusSlaveContext(di=block(), co=block(), hr=block(), ir=block(), zero_mode=True)
              for u in units}
    return ModbusServerContext(slaves=slaves, single=False)


async def start_tcp(server):
    """Run serve_forever() until it listens; return (task, bound port)."""
    task = asyncio.create_task(server.serve_forever())
    await asyncio.wait([server.serving, task], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # raises the bind error
        raise RuntimeError("server stopped before listening")
    return task, server.server.sockets[0].getsockname()[1]


async def start_rtu(a, context, faults):
    srv = ModbusSerialServer(context, framer=AnyUnitRtuFramer, handler=FaultyRtuHandler,
                             port=a.rtu, baudrate=a.baud, parity=a.parity, stopbits=a.stopbits,
                             bytesize=8, ignore_missing_slaves=True)
    srv.faults, srv.char_timing = faults, a.char_timing
    srv.char_time = 11.0 / a.baud
    srv.t35 = 3.5 * srv.char_time if a.baud <= 19200 else 0.00175
    srv.frame_gap = max(srv.t35, 0.02)
    # ModbusSerialServer._connect() logs and swallows most open errors: check the transport
    await srv.start()
    if srv.transport is None and a.parity != "N":
        note("could not open %s with parity %s (a pty cannot carry parity), using N"
             % (a.rtu, a.parity))
        srv.parity = "N"
        await srv.start()
    if srv.transport is None:
        raise RuntimeError("cannot open serial device %s" % a.rtu)
    return srv


async def run(a):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    context = make_context(a.units)
    faults = Faults(context, a.units, a.ctl, a.log)
    side = ModbusTcpServer(context, address=("127.0.0.1", a.side_port), handler=SideHandler,
                           allow_reuse_address=True)
    side.faults = faults
    tasks = []
    task, side_port = await start_tcp(side)
    tasks.append(task)
    if a.tcp is not None:
        main = ModbusTcpServer(context, framer=AnyUnitSocketFramer, handler=FaultyTcpHandler,
                               address=("127.0.0.1", a.tcp), allow_reuse_address=True)
        main.faults = faults
        task, port = await start_tcp(main)
        tasks.append(task)
        where = "tcp:%d" % port
    else:
        main = await start_rtu(a, context, faults)
        where = "rtu:" + a.rtu

    async def poll_ctl():
        while True:
            faults.poll()
            await asyncio.sleep(CTL_POLL)

    tasks.append(asyncio.create_task(poll_ctl()))
    print("fieldslave: listening main=%s side=tcp:%d" % (where, side_port), flush=True)
    print("fieldslave: ready", flush=True)
    await stop.wait()
    for server in (main, side):
        await asyncio.wait_for(server.shutdown(), 2)
    for task in tasks:
        task.cancel()
    faults.log.close()
    return 0


def main(argv=None):
    a = parse_args(argv)
    # importing pymodbus ran logging.basicConfig(); its ERROR lines (every exception reply,
    # every client disconnect) are noise here: our own notes go to stderr directly
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(run(a))
    except (OSError, RuntimeError) as exc:
        note("cannot start: %s" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
