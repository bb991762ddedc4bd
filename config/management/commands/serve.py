"""`manage.py serve [--host H] [--port P]`: the whole store server in one process.

daphne (HTTP and WebSockets) and the background loops of core/background.py share one asyncio event
loop, so whatever the loops publish (print alerts, sync status) reaches the screens through the
in-memory channel layer. Steps:

1. apply pending migrations (after an update the restaurant just restarts the service; refusing to
   start would leave the tills dark until someone types `migrate`);
2. listen, print the addresses tablets should open;
3. start the loops once daphne listens (the fiscal closures loop journals the start, code 1, on its
   first pass, with the software-version check that goes with it);
4. on SIGTERM or Ctrl-C (daphne's Twisted reactor handles both): stop the loops and let the current
   steps finish (a few seconds at most), close the connections, journal the stop (code 2), exit 0.
"""

import asyncio
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.db.migrations.executor import MigrationExecutor

from fiscal import codes
from core import background

logger = logging.getLogger("brigade.serve")

# What the loops get to finish the step in progress when asked to stop: within SIGTERM's usual
# 5-second allowance (systemd's is 90 s, a test's 5) with room for daphne to close its connections.
STOP_GRACE_SECONDS = 3.0


class Command(BaseCommand):
    help = "Run Brigade: daphne (HTTP + WebSockets) and the background loops (printing, closures, sync)."

    def add_arguments(self, parser):
        # 0.0.0.0 by default: the tablets and kitchen screens reach the server over the LAN. Every page
        # still asks for a paired device or a manager login.
        parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0: every interface)")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    def handle(self, *args, host: str, port: int, **options):
        # Importing daphne.server installs Twisted's asyncio reactor; nothing may import the reactor first.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import reactor

        from channels.routing import get_default_application

        self.migrate()

        self.stop_event: asyncio.Event | None = None
        self.tasks: list[asyncio.Task] = []
        steps = background.load_steps()
        # The loops' own threads: a slow step (a printer timing out) never takes a thread HTTP needs.
        self.executor = ThreadPoolExecutor(max_workers=max(len(steps), 1), thread_name_prefix="brigade-loop")
        self.server = Server(
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,  # SIGINT and SIGTERM stop the reactor, which runs our shutdown trigger
            websocket_timeout=-1,  # kitchen screens stay connected for days
            application_close_timeout=STOP_GRACE_SECONDS,
            verbosity=0,
        )
        reactor.callWhenRunning(self.when_listening, steps, host, port)
        reactor.addSystemEventTrigger("before", "shutdown", self.stop_loops)
        self.server.run()  # returns once the reactor has stopped

        self.finish_tasks(reactor._asyncioEventloop)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.wait_for_threads(deadline=time.monotonic() + 1.0)
        close_old_connections()
        if not self.server.listening_addresses:
            raise CommandError(f"Could not listen on {host}:{port} (address in use? see the log above).")
        self.journal(codes.STOP, "server stopped")
        self.stdout.write("Brigade stopped.")

    # --- start ------------------------------------------------------------------------------------

    def migrate(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            self.stdout.write(f"Applying {len(plan)} database migration(s)…")
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write("Database up to date.")
        connection.close()

    def when_listening(self, steps, host: str, port: int, waited: float = 0.0) -> None:
        """Called by the reactor: once daphne listens, announce it and start the loops."""
        from twisted.internet import reactor

        if not self.server.listening_addresses:
            if waited < 10:
                reactor.callLater(0.1, self.when_listening, steps, host, port, waited + 0.1)
            return
        self.print_urls(host, port)
        self.stop_event = asyncio.Event()
        for name, step, idle in steps:
            coroutine = background.run_loop(name, step, idle, stop=self.stop_event, executor=self.executor)
            self.tasks.append(asyncio.ensure_future(coroutine))
        logger.info("Background loops running: %s", ", ".join(name for name, _step, _idle in steps) or "none")

    def print_urls(self, host: str, port: int) -> None:
        from accounts.access import lan_addresses

        if host in ("0.0.0.0", "::", ""):
            hosts = lan_addresses() + ["127.0.0.1"]
        else:
            hosts = [f"[{host}]" if ":" in host else host]
        base = f"http://{hosts[0]}:{port}"
        lines = [
            f"Brigade {settings.VERSION} is running ({settings.KDS_ROLE} role, data in {settings.DATA_DIR}).",
            f"  Till:     {base}/",
            f"  Kiosk:    {base}/kiosk/",
            f"  Kitchen:  {base}/kitchen/",
            f"  Admin:    {base}/admin/",
        ]
        lines += [f"  (also reachable as http://{other}:{port}/)" for other in hosts[1:]]
        lines += [
            "A screen opened for the first time asks to be paired: create its token in the admin or with",
            "  manage.py device_token NAME --role till|kiosk|kds|integration",
            "Stop with Ctrl-C.",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    # --- stop -------------------------------------------------------------------------------------

    def stop_loops(self):
        """A Twisted "before shutdown" trigger: the reactor waits for the Deferred returned here."""
        from twisted.internet import defer

        if self.stop_event is None:
            return None
        self.stop_event.set()
        return defer.Deferred.fromFuture(asyncio.ensure_future(self.wait_for_loops()))

    async def wait_for_loops(self) -> None:
        if not self.tasks:
            return
        done, pending = await asyncio.wait(self.tasks, timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()  # its thread may still be in the step; wait_for_threads deals with that

    def finish_tasks(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel what the reactor left on the event loop (a WebSocket consumer still waiting for the
        channel layer) and let it unwind, then close the loop. Coroutines left suspended would otherwise
        be torn down by the interpreter's final garbage collection, which can crash the process."""
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            gathered = asyncio.gather(*pending, return_exceptions=True)
            try:
                loop.run_until_complete(asyncio.wait_for(gathered, timeout=STOP_GRACE_SECONDS))
            except TimeoutError:
                logger.warning("%d connection handler(s) did not finish in time", len(pending))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def wait_for_threads(self, *, deadline: float) -> None:
        """A step still running after the grace period (a stuck socket without a timeout) would keep
        the interpreter from exiting: say which, and leave without it. Its transaction, if any, is
        rolled back by the database when the process's connection drops."""
        for thread in threading.enumerate():
            if thread.name.startswith("brigade-loop"):
                thread.join(max(deadline - time.monotonic(), 0))
        stuck = [t.name for t in threading.enumerate() if t.name.startswith("brigade-loop") and t.is_alive()]
        if stuck:
            logger.error("Background step still running at shutdown (%s); exiting without it", ", ".join(stuck))
            self.journal(codes.STOP, "server stopped (a background step was abandoned)")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    # --- journal ----------------------------------------------------------------------------------

    def journal(self, code: int, message: str, **details) -> None:
        """The stop goes to the fiscal event journal. A journal failure is logged, not fatal: the
        server must still stop cleanly even if, say, the fiscal key needs attention."""
        from fiscal.services import journal

        try:
            journal(code, message=message, device="server", details=details or None)
        except Exception:
            logger.exception("Could not journal %r", message)
        finally:
            close_old_connections()
