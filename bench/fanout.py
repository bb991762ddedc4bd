"""Kitchen fan-out, as a cook and a server feel it.

    .venv/bin/python bench/fanout.py [--orders-per-sec 20] [--screens 16] [--duration 10] [--posters 4]
                                     [--sweep] [--rates 20,40,60,80,100] [--full-menu] [--cooks]
                                     [--redis redis://127.0.0.1:6379/0] [--keep]

Two figures per order, both taken by the bench's own clocks on loopback:
- POST sent → on the LAST screen: from the moment the till's POST leaves until the ticket is on every
  one of the S kitchen screens (what the last cook waits for);
- the till's answer: POST sent → the whole answer read (what the server at the till waits for).

What it does, in a fresh temporary data dir (SQLite):
1. migrate, load the demo restaurant, create an integration token and a kitchen-screen token;
2. start `manage.py serve` (with --redis: two `serve` workers sharing the database and Redis; the
   posters talk to worker A, the screens to worker B, so every frame crosses Redis);
3. open S screens on real WebSockets (the `websockets` package), spread over the stations an order
   rings: grill, fry, bar and expo for the default order (an entrecôte-frites and a drink), all six
   with --full-menu; with --cooks one screen per station also bumps its oldest tickets, keeping
   about 20 open as in a real service;
4. M posters (in a process of their own) send orders through the JSON API at the given rate.

The floor is measured the same way in the same run: a minimal stock Django + Channels app
(bench/floor/: stock ASGI handler, stock in-memory layer, daphne, one model insert and one group_send
per POST, S WebSocket clients in the group, SQLite in the same temporary dir).

With --sweep both are also run at each of --rates; the highest rate held is the last one where
p99 (POST → last screen) ≤ 100 ms, no ticket is missing 15 s after the run and the posters sent at
least 95 % of the asked rate. Every loop is bounded in count and time.

Targets on a quiet 2-core machine: p99 < 30 ms at 20 orders/s with 16 screens, at most 0.6 x the
floor's p99 in the same run, >= 60 orders/s held. The last four lines are the figures:
    post_to_last_screen_p99_ms: N
    floor_post_to_last_screen_p99_ms: N
    held_orders_per_sec: N
    till_answer_p99_ms: N
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# A typical order of the demo bistro: an entrecôte-frites (the grill and the fryer) and a drink (the
# bar), so it rings four stations with expo. --full-menu adds a starter and a dessert (all six).
DISHES = ["Entrecôte frites", "Coca-Cola 33cl"]
FULL_MENU = ["Entrecôte frites", "Salade verte", "Crème brûlée", "Coca-Cola 33cl"]
STATIONS = ["grill", "fry", "bar", "expo"]
ALL_STATIONS = ["grill", "fry", "cold", "pastry", "bar", "expo"]
OPEN_PER_STATION = 20
CARD = re.compile(r'<article id="ticket-(\d+)"[^>]*?data-order-id="(\d+)"')
DELETE = re.compile(r'<div id="ticket-(\d+)" hx-swap-oob="delete">')



# --- Processes ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(data_dir: str, redis: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KDS_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1",
               KDS_CLOUD_URL="", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    if redis:
        env["REDIS_URL"] = redis
    return env


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start(command: list[str], env: dict, log: Path, port: int, cwd: Path = ROOT) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[2:4]} exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{command} did not listen on {port}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)



# --- Orders and screens ------------------------------------------------------------------------------


class Posters:
    """M threads posting orders at `rate` per second in total for `duration` seconds. They run in a
    process of their own (`PosterProcess`) so that posting does not slow the screens' clients."""

    def __init__(self, port: int, token: str, body_lines: list[dict], rate: float, duration: float, count: int):
        self.port, self.token, self.lines = port, token, body_lines
        self.rate, self.duration = rate, duration
        self.total = int(rate * duration)
        self.next = 0
        self.lock = threading.Lock()
        self.sent_at: dict[int, float] = {}  # order id → POST sent (epoch seconds)
        self.accepted_at: dict[int, float] = {}  # order id → its 201 answer fully read
        self.errors = 0
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(count)]

    def start(self) -> None:
        self.t0 = time.monotonic()
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(self.duration + 60)
        self.elapsed = time.monotonic() - self.t0

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while True:
            with self.lock:
                i = self.next
                self.next += 1
            if i >= self.total:
                break
            time.sleep(max(0.0, self.t0 + i / self.rate - time.monotonic()))
            body = json.dumps({"idempotency_key": str(uuid.uuid4()), "order_type": "take_away", "lines": self.lines})
            sent = time.time()
            try:
                connection.request("POST", "/api/v1/orders/", body, {
                    "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                accepted = time.time()
                if response.status != 201 and response.status != 200:
                    raise OSError(f"{response.status} {data[:200]!r}")
                order_id = json.loads(data)["id"]
                self.sent_at[order_id], self.accepted_at[order_id] = sent, accepted
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.errors += 1
                if self.errors <= 3:
                    print(f"  order failed: {exc}", file=sys.stderr)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.close()


def _post_orders(conn, port: int, token: str, lines: list[dict], rate: float, duration: float, count: int) -> None:
    posters = Posters(port, token, lines, rate, duration, count)
    posters.start()
    posters.join()
    conn.send((posters.sent_at, posters.accepted_at, posters.errors, posters.elapsed))
    conn.close()


class PosterProcess:
    def __init__(self, port: int, token: str, lines: list[dict], rate: float, duration: float, count: int):
        context = multiprocessing.get_context("spawn")
        self.receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(target=_post_orders, args=(sender, port, token, lines, rate, duration, count))
        self.duration = duration
        self.sent_at: dict[int, float] = {}
        self.accepted_at: dict[int, float] = {}
        self.errors, self.elapsed = 0, 0.0

    def start(self) -> None:
        self.process.start()

    def join(self) -> None:
        if self.receiver.poll(self.duration + 120):
            self.sent_at, self.accepted_at, self.errors, self.elapsed = self.receiver.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


class Screen:
    def __init__(self, station: str, cook: bool):
        self.station, self.cook = station, cook
        self.seen: dict[int, float] = {}  # order id → first frame showing it (epoch seconds)
        self.open: list[int] = []  # ticket ids, oldest first (for the cook)
        self.frames = 0

    async def run(self, port: int, token: str, stop: asyncio.Event) -> None:
        import websockets

        url = f"ws://127.0.0.1:{port}/ws/kds/{self.station}/"
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                                      max_size=None) as ws:
            while not stop.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                if frame.startswith("{"):
                    continue
                self.frames += 1
                self.ready.set()  # the snapshot is in: measuring starts once every screen has had its own
                for ticket_id, order_id in CARD.findall(frame):
                    self.seen.setdefault(int(order_id), now)
                    if self.cook and int(ticket_id) not in self.open:
                        self.open.append(int(ticket_id))
                for ticket_id in DELETE.findall(frame):
                    if int(ticket_id) in self.open:
                        self.open.remove(int(ticket_id))
                while self.cook and len(self.open) > OPEN_PER_STATION:
                    oldest = self.open.pop(0)
                    await ws.send(json.dumps({"action": "bump", "ticket": oldest, "to": "done"}))


async def run_screens(port: int, token: str, screens: list[Screen], posters: Posters, pids: list[int]) -> None:
    stop = asyncio.Event()
    for screen in screens:
        screen.ready = asyncio.Event()
    tasks = [asyncio.create_task(s.run(port, token, stop)) for s in screens]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in screens)), timeout=60)
    await asyncio.sleep(0.5)
    posters.cpu_before = cpu_seconds(pids)
    posters.start()
    await asyncio.to_thread(posters.join)
    deadline = time.monotonic() + 15  # an overloaded server drains its backlog: missing = not shown 15 s later
    expected = set(posters.sent_at)
    while time.monotonic() < deadline and not all(expected <= set(s.seen) for s in screens):
        await asyncio.sleep(0.05)
    posters.cpu_after = cpu_seconds(pids)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)



def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the server processes have used so far (Linux /proc; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def close_open_tickets(db: Path) -> None:
    """Between runs, as cooks would have bumped them: the tickets of the runs before stay out of the
    next run's snapshots (thousands of open cards would measure the snapshot, not the fan-out)."""
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute("UPDATE kds_ticket SET status = 'done' WHERE status != 'done'")




# --- One measurement ----------------------------------------------------------------------------------


def run_load(args, rate: float, *, post_port: int, screen_port: int, tokens: dict, lines: list[dict],
             pids: list[int], db: Path | None = None, cooks: bool = False) -> dict:
    """One run at `rate`: per order, POST sent → on its last screen, and POST sent → answer read."""
    if db is not None:
        close_open_tickets(db)
    stations = ALL_STATIONS if args.full_menu else STATIONS
    screens = [Screen(stations[i % len(stations)], cook=cooks and i < len(stations)) for i in range(args.screens)]
    posters = PosterProcess(post_port, tokens["api"], lines, rate, args.duration, args.posters)
    asyncio.run(run_screens(screen_port, tokens["kds"], screens, posters, pids))
    cpu = posters.cpu_after - posters.cpu_before
    to_last, answers, missing = [], [], 0
    missing_at: dict[str, int] = defaultdict(int)
    for order_id, sent in posters.sent_at.items():
        answers.append(posters.accepted_at[order_id] - sent)
        seen_on = []
        for screen in screens:
            seen = screen.seen.get(order_id)
            if seen is None:
                missing += 1
                missing_at[screen.station] += 1
            else:
                seen_on.append(seen)
        if len(seen_on) == len(screens):
            to_last.append(max(seen_on) - sent)
    orders = len(posters.sent_at)
    return {
        "rate": rate,
        "achieved": orders / posters.elapsed if posters.elapsed else 0.0,
        "orders": orders,
        "errors": posters.errors,
        "missing": missing,
        "missing_at": dict(missing_at),
        "last_p50": percentile(to_last, 50) * 1000,
        "last_p99": percentile(to_last, 99) * 1000,
        "last_max": percentile(to_last, 100) * 1000,
        "answer_p50": percentile(answers, 50) * 1000,
        "answer_p99": percentile(answers, 99) * 1000,
        "cpu_per_order": cpu / orders * 1000 if orders else float("nan"),
        "cpu_share": cpu / posters.elapsed if posters.elapsed else float("nan"),
    }


def held(result: dict) -> bool:
    return (result["last_p99"] <= 100 and not result["missing"] and not result["errors"]
            and result["achieved"] >= 0.95 * result["rate"])


def show(name: str, result: dict, screens: int) -> None:
    print(f"  {name}: {result['rate']:.0f} orders/s asked, {result['achieved']:.1f} sent ({result['orders']} orders, "
          f"{result['errors']} errors), {screens} screens, {result['missing']} missing"
          + (f" {result['missing_at']}" if result["missing"] else ""))
    print(f"    POST sent → on the last screen: p50 {result['last_p50']:.1f} ms, p99 {result['last_p99']:.1f} ms, "
          f"max {result['last_max']:.1f} ms")
    print(f"    till's answer (POST sent → answer read): p50 {result['answer_p50']:.1f} ms, "
          f"p99 {result['answer_p99']:.1f} ms; server CPU {result['cpu_per_order']:.1f} ms per order, "
          f"{result['cpu_share']:.2f} cores")


# --- The two servers ----------------------------------------------------------------------------------


class Brigade:
    name = "brigade"

    def __init__(self, args, data_dir: str):
        self.args, self.data_dir = args, data_dir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        env = base_env(self.data_dir, self.args.redis)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "demo")
        self.tokens = {
            "api": manage(env, "device_token", "Bench orders", "--role", "integration").split()[-1],
            "kds": manage(env, "device_token", "Bench screens", "--role", "kds").split()[-1],
        }
        self.post_port = free_port()
        command = [PYTHON, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port"]
        self.processes.append(start(command + [str(self.post_port)], env, Path(self.data_dir) / "serve-a.log",
                                    self.post_port))
        self.screen_port = self.post_port
        if self.args.redis:
            self.screen_port = free_port()
            self.processes.append(start(command + [str(self.screen_port)], env, Path(self.data_dir) / "serve-b.log",
                                        self.screen_port))
        request = urllib.request.Request(f"http://127.0.0.1:{self.post_port}/api/v1/menu/",
                                         headers={"Authorization": f"Bearer {self.tokens['api']}"})
        menu = json.load(urllib.request.urlopen(request, timeout=10))
        items = {item["name"]: item for category in menu["categories"] for item in category["items"]}
        self.lines = [
            {"item": items[name]["id"], "quantity": 1,
             "modifiers": [g["modifiers"][0]["id"] for g in items[name]["modifier_groups"] if g.get("min", 0) >= 1]}
            for name in (FULL_MENU if self.args.full_menu else DISHES)
        ]

    def measure(self, rate: float) -> dict:
        return run_load(self.args, rate, post_port=self.post_port, screen_port=self.screen_port, tokens=self.tokens,
                        lines=self.lines, pids=[p.pid for p in self.processes],
                        db=Path(self.data_dir) / "brigade.sqlite3", cooks=self.args.cooks)

    def stop(self) -> None:
        for process in self.processes:
            stop(process)


class Floor(Brigade):
    """bench/floor/: stock Django + Channels, same posters, same screens' clients."""

    name = "floor"

    def start(self) -> None:
        floor_dir = Path(self.data_dir) / "floor"
        floor_dir.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(FLOOR_DATA_DIR=str(floor_dir), DJANGO_SETTINGS_MODULE="floor.settings", PYTHONUNBUFFERED="1",
                   PYTHONPATH=str(ROOT / "bench"))
        result = subprocess.run([PYTHON, str(ROOT / "bench" / "floor" / "manage.py"), "migrate", "--run-syncdb",
                                 "-v", "0"], cwd=ROOT / "bench", env=env, capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise SystemExit(f"floor migrate failed:\n{result.stdout}\n{result.stderr}")
        self.tokens = {"api": "-", "kds": "-"}
        self.lines = [{"item": 1, "quantity": 1}, {"item": 2, "quantity": 1}]
        self.post_port = self.screen_port = free_port()
        self.processes.append(start([PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.post_port),
                                     "floor.asgi:application"], env, floor_dir / "daphne.log", self.post_port,
                                    cwd=ROOT / "bench"))

    def measure(self, rate: float) -> dict:
        return run_load(self.args, rate, post_port=self.post_port, screen_port=self.screen_port, tokens=self.tokens,
                        lines=self.lines, pids=[p.pid for p in self.processes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders-per-sec", type=float, default=20.0)
    parser.add_argument("--screens", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per measurement")
    parser.add_argument("--posters", type=int, default=4, help="concurrent order posters")
    parser.add_argument("--sweep", action="store_true", help="also run at each of --rates, Brigade and the floor")
    parser.add_argument("--rates", default="20,40,60,80,100", help="orders per second tried by --sweep")
    parser.add_argument("--redis", help="redis://… : two serve workers sharing Redis (posters on A, screens on B)")
    parser.add_argument("--full-menu", action="store_true", help="orders with a dish for each of the six stations")
    parser.add_argument("--cooks", action="store_true",
                        help="one screen per station bumps its oldest tickets (about 20 stay open)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (database, server logs) and print where")
    args = parser.parse_args()
    try:
        rates = [float(rate) for rate in args.rates.split(",")]
    except ValueError:
        parser.error("--rates: numbers separated by commas")
    if not (0 < args.orders_per_sec <= 1000 and 1 <= args.screens <= 500 and 0 < args.duration <= 600
            and 1 <= args.posters <= 64 and all(0 < rate <= 1000 for rate in rates) and len(rates) <= 20):
        parser.error("out of range")

    data_dir = tempfile.mkdtemp(prefix="brigade-fanout-")
    try:
        run(args, rates if args.sweep else [], data_dir)
    finally:
        if args.keep:
            print(f"Data dir kept: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args, rates: list[float], data_dir: str) -> None:
    layer = "Redis, 2 workers" if args.redis else "in-memory layer, 1 process"
    print(f"Kitchen fan-out (Brigade: {layer}; floor: stock Django + Channels; SQLite; {args.screens} screens, "
          f"{args.posters} posters, {args.duration:.0f} s per run)")
    results: dict[str, dict] = {}
    held_rate: dict[str, float | None] = {}
    for server in (Brigade(args, data_dir), Floor(args, data_dir)):
        server.start()
        try:
            results[server.name] = server.measure(args.orders_per_sec)
            show(server.name, results[server.name], args.screens)
            held_rate[server.name] = None
            for rate in rates:
                try:
                    result = server.measure(rate)
                except Exception as exc:  # screens dropped or never ready: this rate did not hold
                    print(f"  {server.name}: {rate:.0f} orders/s: run failed ({exc.__class__.__name__}: {exc})")
                    break
                show(server.name, result, args.screens)
                if not held(result):
                    break
                held_rate[server.name] = rate
        finally:
            server.stop()
    ours, floor = results["brigade"], results["floor"]
    print(f"Summary at {args.orders_per_sec:.0f} orders/s, {args.screens} screens "
          "(targets: p99 < 30 ms, <= 0.6 x the floor, >= 60 orders/s held):")
    print(f"  POST → last screen p99: Brigade {ours['last_p99']:.1f} ms, floor {floor['last_p99']:.1f} ms "
          f"(ratio {ours['last_p99'] / floor['last_p99']:.2f})")
    print(f"  till's answer p99: Brigade {ours['answer_p99']:.1f} ms, floor {floor['answer_p99']:.1f} ms")
    if rates:
        print(f"  highest rate held: Brigade {held_rate['brigade'] or 0:.0f}, floor {held_rate['floor'] or 0:.0f} orders/s")
    print(f"post_to_last_screen_p99_ms: {ours['last_p99']:.1f}")
    print(f"floor_post_to_last_screen_p99_ms: {floor['last_p99']:.1f}")
    print(f"held_orders_per_sec: {held_rate.get('brigade') or 0:.0f}")
    print(f"till_answer_p99_ms: {ours['answer_p99']:.1f}")


if __name__ == "__main__":
    main()
