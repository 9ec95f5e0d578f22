"""A PLC-like OPC UA server (asyncua) with the names real controllers use, for onboarding tests.

Objects/Line 1/Machine0: "Motor Speed" (1/min), "Zone Temps" (4 doubles), "Status Word" (UInt16; bit 0
running, bit 2 fault), "Part Counter" (UInt32, wraps at 65535 like a 16-bit PLC counter), "Spindle/Temp";
Objects/"Plant Ready" (Boolean). Commands on stdin, one a line: ``<variable>=<value>``; it prints
``ready <endpoint>`` once serving and ``ok`` after each command.

    python tests/plc_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys

from asyncua import Server, ua

TYPES = {"Status Word": ua.VariantType.UInt16, "Part Counter": ua.VariantType.UInt32}


async def main(port: int) -> None:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:factory-twin:test:plc")
    line = await server.nodes.objects.add_folder(idx, "Line 1")
    machine = await line.add_object(idx, "Machine0")
    speed = await machine.add_variable(idx, "Motor Speed", 0.0)
    await speed.add_property(0, "EngineeringUnits", ua.EUInformation(DisplayName=ua.LocalizedText("1/min")))
    nodes = {"Motor Speed": speed,
             "Zone Temps": await machine.add_variable(idx, "Zone Temps", [20.0, 21.0, 22.0, 23.0]),
             "Status Word": await machine.add_variable(idx, "Status Word", ua.Variant(0, ua.VariantType.UInt16)),
             "Part Counter": await machine.add_variable(idx, "Part Counter", ua.Variant(65530, ua.VariantType.UInt32))}
    nodes["Spindle/Temp"] = await (await machine.add_object(idx, "Spindle")).add_variable(idx, "Temp", 40.0)
    nodes["Plant Ready"] = await server.nodes.objects.add_variable(idx, "Plant Ready", True)
    loop = asyncio.get_running_loop()
    async with server:
        print(f"ready opc.tcp://127.0.0.1:{port}/", flush=True)
        while line_in := await loop.run_in_executor(None, sys.stdin.readline):
            name, _, value = line_in.strip().partition("=")
            if name in nodes:
                vtype = TYPES.get(name)
                parsed = [float(v) for v in value.split(",")] if "," in value else (
                    int(value) if vtype else value == "true" if value in ("true", "false") else float(value))
                await nodes[name].write_value(ua.Variant(parsed, vtype) if vtype else parsed)
            print("ok", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
