"""A pymodbus 3.0 Modbus TCP slave for the integration tests (Debian 12's
python3-pymodbus). Serves unit ids 1..N with 1000 of each register kind,
zero-based addresses. Tests change values by writing to it as a second
master (see conftest.ModbusSlave.set), so no side channel is needed."""
import argparse
import logging

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer

logging.basicConfig(level=logging.ERROR)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--units", type=int, default=5)
    a = ap.parse_args()

    def block():
        return ModbusSequentialDataBlock(0, [0] * 1000)

    slaves = {u: ModbusSlaveContext(di=block(), co=block(), hr=block(), ir=block(), zero_mode=True)
              for u in range(1, a.units + 1)}
    ctx = ModbusServerContext(slaves=slaves, single=False)
    StartTcpServer(context=ctx, address=("127.0.0.1", a.port))


if __name__ == "__main__":
    main()
