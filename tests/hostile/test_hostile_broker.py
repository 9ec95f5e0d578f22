"""Nobody on the host forges telemetry: the demo's embedded broker and the README's mosquitto take no anonymous
clients, and each user may write only where its part writes (agents the namespace, devices their own topics,
the twin nothing)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from support import PROJECT, auth, free_port, port_open, wait_until

from plantmodel import mqtt

CNC = "acme/plant1/machining/line1/turning/cnc-1"
FORGED = "E999"  # an alarm code no machine of the demo raises


class Probe:
    """A client that connects (or is refused) and records what it receives."""

    def __init__(self, port: int, user: str | None = None, password: str | None = None,
                 subscribe: str | None = None) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.result: list[Any] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=mqtt.unique_client_id("probe"))
        if user:
            self.client.username_pw_set(user, password)

        def on_connect(c: paho.Client, u: Any, f: Any, rc: Any, p: Any = None) -> None:
            self.result.append(rc)
            if subscribe and not rc.is_failure:
                c.subscribe(subscribe, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self.result, 10, f"an answer to {user or 'an anonymous client'}")
        if subscribe and self.accepted:
            assert self.subscribed.wait(10)

    @property
    def accepted(self) -> bool:
        return bool(self.result) and not self.result[0].is_failure

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def check_rights(port: int, passwords: dict[str, str]) -> None:
    """Anonymous and wrong passwords refused; the twin reads the namespace but cannot write it; a device writes
    its own topics only; the agent writes the namespace."""
    anonymous = Probe(port)
    assert not anonymous.accepted
    anonymous.close()
    wrong = Probe(port, "edge", "not-the-password")
    assert not wrong.accepted
    wrong.close()
    twin = Probe(port, "twin", passwords["twin"], subscribe="acme/#")
    edge = Probe(port, "edge", passwords["edge"], subscribe="uagv/#")
    device = Probe(port, "device", passwords["device"])
    try:
        assert twin.accepted and edge.accepted and device.accepted
        twin.publish(f"{CNC}/alarm_code", b'{"value": "E999", "ts": "2026-01-01T00:00:00Z"}')
        device.publish(f"{CNC}/alarm_code", b'{"value": "E999", "ts": "2026-01-01T00:00:00Z"}')
        device.publish("uagv/v2/acme/agv-1/state", b"{}")
        edge.publish(f"{CNC}/spindle_speed", b'{"value": 1, "ts": "2026-01-01T00:00:00Z"}')
        wait_until(lambda: (f"{CNC}/spindle_speed", b'{"value": 1, "ts": "2026-01-01T00:00:00Z"}') in twin.received,
                   10, "the agent's message")
        wait_until(lambda: ("uagv/v2/acme/agv-1/state", b"{}") in edge.received, 10, "the device's message")
        time.sleep(0.5)  # the refused ones would have come by now
        assert not [t for t, payload in twin.received if b"E999" in payload], twin.received
    finally:
        for p in (twin, edge, device):
            p.close()


def test_readme_mosquitto_recipe_takes_no_anonymous_clients(tmp_path: Path) -> None:
    """configs/mosquitto/acl with a password file, as the README's multi-process recipe runs it."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    passwd_exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed")
    passwords = {"edge": "edge-pass-0123456789", "twin": "twin-pass-0123456789", "device": "dev-pass-0123456789"}
    passwd = tmp_path / "passwd"
    for i, (user, pw) in enumerate(passwords.items()):
        subprocess.run([passwd_exe, *(["-c"] if i == 0 else []), "-b", str(passwd), user, pw], check=True,
                       capture_output=True)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    import getpass

    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                    f"acl_file {PROJECT / 'configs' / 'mosquitto' / 'acl'}\nuser {getpass.getuser()}\n")
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 10, "mosquitto to listen")
        assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
        check_rights(port, passwords)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_the_demo_broker_takes_no_anonymous_forgeries(tmp_path: Path) -> None:
    """The whole demo: its MQTT users are made and printed at start (no password was set), anonymous clients
    are refused, and a device cannot write the namespace: a forged alarm never reaches the twin."""
    http, broker = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FT_MQTT_")}
    err = (tmp_path / "demo.err").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "factory_twin", "demo", "--port", str(http), "--mqtt-port",
                             str(broker), "--speed", "5", "--data-dir", str(tmp_path / "data")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: any("Press Ctrl-C" in line for line in out), 30, "the demo to start")
        text = "".join(out)
        passwords = dict(re.findall(r"^ {4}(edge|twin|device) +(\S+)$", text, re.M))
        assert set(passwords) == {"edge", "twin", "device"}, text
        assert "(yours, from FT_ADMIN_KEY)" in text  # keys set in the environment are not printed
        assert os.environ["FT_ADMIN_KEY"] not in text
        check_rights(broker, passwords)
        forger = Probe(broker, "device", passwords["device"])
        anonymous = Probe(broker)
        assert not anonymous.accepted
        for _ in range(3):
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")  # only the broker's rights can stop it
            forger.publish(f"{CNC}/alarm_code", b'{"value": "E999", "ts": "%s"}' % now.encode())
        forger.close()
        anonymous.close()
        time.sleep(2)
        asset = httpx.get(f"http://127.0.0.1:{http}/api/assets/{CNC}", headers=auth("viewer"), timeout=5).json()
        assert asset["signals"].get("alarm_code", {}).get("value") != FORGED
        alerts = httpx.get(f"http://127.0.0.1:{http}/api/alerts", headers=auth("viewer"), timeout=5).text
        assert FORGED not in alerts
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
        proc.stdout.close()  # type: ignore[union-attr]
        err.close()
    assert proc.returncode == 0, (tmp_path / "demo.err").read_text()[-3000:]
