"""The official MCP Python SDK's client (protocol 2025-11-25, session-based) against
a real toolbox process on a free port.

Usage: legacy_sdk_client.py PATH_TO_TOOLBOX_BINARY
"""

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"toolbox exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("toolbox did not become healthy")


async def exercise(url: str) -> None:
    async with streamablehttp_client(url) as (read, write, session_id):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.protocolVersion == "2025-11-25", init.protocolVersion
            assert session_id(), "the server should open a session for this revision"

            listed = await session.list_tools()
            names = sorted(tool.name for tool in listed.tools)
            assert names == ["add", "divide", "multiply", "subtract"], names
            for tool in listed.tools:
                assert tool.description, tool.name
                assert tool.inputSchema["required"] == ["a", "b"], tool.inputSchema

            cases = [("add", 10, 5, "15"), ("subtract", 20, 9, "11"),
                     ("multiply", 6, 7, "42"), ("divide", 10, 4, "2.5")]
            for name, a, b, expected in cases:
                result = await session.call_tool(name, {"a": a, "b": b})
                assert not result.isError, (name, result)
                assert result.content[0].text == expected, (name, result.content)

            failed = await session.call_tool("divide", {"a": 1, "b": 0})
            assert failed.isError and "division by zero" in failed.content[0].text, failed
            missing = await session.call_tool("add", {"a": 1})
            assert missing.isError and '"b"' in missing.content[0].text, missing


def main() -> None:
    binary = sys.argv[1]
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--host", "127.0.0.1"])
    try:
        wait_healthy(port, process)
        asyncio.run(exercise(f"http://127.0.0.1:{port}/mcp"))
        print("The Python MCP SDK client works against the toolbox.")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
