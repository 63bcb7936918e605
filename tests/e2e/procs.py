"""procs.py - extra processes an end-to-end test starts beside the stack, and the stack's
broker switch.

Proc starts one real program (a second gateway, tests/tools/event_probe, ...) with its output
in $FR_RUN_DIR/log/<name>.log and the sanitizers' reports in $FR_RUN_DIR/asan/<name>.<pid>
(ASAN_OPTIONS / UBSAN_OPTIONS log_path), so nothing it prints is lost and a leak or a UBSan
report fails the test that started it: stop() sends SIGTERM, waits, and returns the exit
status; assert_clean_exit() wants status 0 (or the one given) and no sanitizer report.

    probe = procs.Proc("event_probe", procs.tool("event_probe"), env={...}).start()
    ...
    probe.assert_stopped_cleanly(self)          # SIGTERM, exit 0, no sanitizer report

Stack helpers: stack_env() (the running stack's variables, from `scripts/stack.sh env`),
broker_down() / broker_up() (scripts/stack.sh down|up rabbitmq for exactly this stack: the
run dir and ports of the environment the suite runs in), daemon_environ(name) (the
environment the stack started a daemon with, read from /proc) and free_port().
Python standard library only.
"""
import glob
import os
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STACK_SH = os.path.join(ROOT, "scripts", "stack.sh")

# The variables that select one stack for scripts/stack.sh (everything else has defaults).
STACK_VARS = ("FR_RUN_DIR", "FR_PG_PORT", "FR_REDIS_PORT", "FR_AMQP_PORT", "FR_AMQP_DIST_PORT",
              "FR_EPMD_PORT", "FR_AMQP_USER", "FR_AMQP_PASSWORD", "FR_AMQP_VHOST",
              "GATEWAY_PORT", "IDENTITY_PORT", "BILLING_PORT")


def run_dir():
    """FR_RUN_DIR of the stack under test, or None."""
    d = os.environ.get("FR_RUN_DIR")
    return d if d and os.path.isdir(d) else None


def bin_dir():
    """The daemons' directory: FR_BIN_DIR, else build/san/bin."""
    return os.environ.get("FR_BIN_DIR") or os.path.join(ROOT, "build", "san", "bin")


def tool(name):
    """A test tool built next to the daemons: build/<mode>/tools/<name>."""
    return os.path.join(os.path.dirname(bin_dir().rstrip("/")), "tools", name)


def free_port():
    """A currently free TCP port on 127.0.0.1 (the kernel's choice)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---- the stack -------------------------------------------------------------------------------

def stack_env():
    """The environment for scripts/stack.sh aimed at the stack under test: only the variables
    that select it (run dir, ports, broker credentials), all taken from the suite's
    environment. Raises when FR_RUN_DIR or a port is missing, so a test can never stop the
    broker of another stack with the script's defaults."""
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARS}
    missing = [k for k in ("FR_RUN_DIR", "FR_AMQP_PORT", "FR_AMQP_DIST_PORT", "FR_EPMD_PORT")
               if not os.environ.get(k)]
    if missing or not run_dir():
        raise RuntimeError("the stack under test is not described by the environment "
                           "(missing %s); eval \"$(scripts/stack.sh env)\" first"
                           % ", ".join(missing or ["an existing FR_RUN_DIR"]))
    for k in STACK_VARS:
        if os.environ.get(k):
            env[k] = os.environ[k]
    return env


def stack(*args, timeout=180):
    """Runs scripts/stack.sh args... for the stack under test; returns its output. Raises
    AssertionError (with the output) when it fails."""
    r = subprocess.run([STACK_SH] + list(args), env=stack_env(), cwd=ROOT, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise AssertionError("scripts/stack.sh %s failed (exit %d):\n%s"
                             % (" ".join(args), r.returncode, r.stdout[-3000:]))
    return r.stdout


def stack_status():
    """{component: the rest of its `scripts/stack.sh status` line}."""
    out = {}
    for line in stack("status", timeout=60).splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def broker_running():
    line = stack_status().get("rabbitmq", "")
    return line.startswith("running")


def broker_down():
    """Stops only the stack's RabbitMQ (after checking that the broker this run dir runs is the
    one FR_AMQP_PORT names)."""
    line = stack_status().get("rabbitmq", "")
    port = os.environ["FR_AMQP_PORT"]
    if not line.startswith("running") or ("127.0.0.1:%s " % port) not in line + " ":
        raise AssertionError("the stack in %s does not run the broker on port %s: %r"
                             % (os.environ["FR_RUN_DIR"], port, line))
    return stack("down", "rabbitmq")


def broker_up():
    """Starts the stack's RabbitMQ again (same node and data); returns when AMQP accepts."""
    return stack("up", "rabbitmq")


def daemon_pid(name):
    """pid of a stack daemon from $FR_RUN_DIR/pid/<name>.pid, or None."""
    try:
        with open(os.path.join(run_dir() or "/nonexistent", "pid", name + ".pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def daemon_environ(name):
    """(environment dict, executable path) the stack started daemon `name` with, read from
    /proc/<pid>/environ and /proc/<pid>/exe. Raises when it is not running."""
    pid = daemon_pid(name)
    if pid is None:
        raise RuntimeError("%s is not running in %s" % (name, run_dir()))
    with open("/proc/%d/environ" % pid, "rb") as f:
        raw = f.read()
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode()] = v.decode()
    exe = os.readlink("/proc/%d/exe" % pid)
    if exe.endswith(" (deleted)"):  # rebuilt since it started: take the binary on disk
        exe = exe[:-len(" (deleted)")]
    return env, exe


# ---- extra processes -------------------------------------------------------------------------

class Proc:
    """One extra process. name: used for the log file and the sanitizer log prefix."""

    def __init__(self, name, argv, env=None, inherit_env=False):
        if isinstance(argv, str):
            argv = [argv]
        self.name, self.argv = name, list(argv)
        base = dict(os.environ) if inherit_env else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        base.update(env or {})
        self.env = base
        rd = run_dir() or os.environ.get("TMPDIR", "/tmp")
        self.log_path = os.path.join(rd, "log", name + ".log")
        self.asan_prefix = os.path.join(rd, "asan", name)
        self.proc = None
        self.returncode = None

    def start(self):
        if not os.path.exists(self.argv[0]):
            raise RuntimeError("%s not found: build it first (make SAN=1 build)" % self.argv[0])
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        os.makedirs(os.path.dirname(self.asan_prefix), exist_ok=True)
        self.env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:log_path=" + self.asan_prefix
        self.env["UBSAN_OPTIONS"] = ("print_stacktrace=1:halt_on_error=1:log_path="
                                     + self.asan_prefix + ".ubsan")
        self._log = open(self.log_path, "ab")
        self._log.write(("=== %s starting %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                 time.gmtime()),
                                                   " ".join(self.argv))).encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Waits for the process to end by itself; its exit status, or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_log()
        return self.returncode

    def stop(self, timeout=20):
        """SIGTERM, wait (SIGKILL after timeout, status then -9); returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.returncode = self.proc.returncode
        self._close_log()
        return self.returncode

    def _close_log(self):
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def sanitizer_reports(self):
        """[(path, text)] of non-empty sanitizer logs this process wrote."""
        if self.proc is None:
            return []
        out = []
        for path in sorted(glob.glob("%s*.%d" % (self.asan_prefix, self.proc.pid))):
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if text.strip():
                out.append((path, text))
        return out

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def describe_exit(self):
        reports = self.sanitizer_reports()
        return "%s (pid %s) exit %r%s; last lines of %s:\n%s" % (
            self.name, self.pid, self.returncode,
            "; sanitizer reports: " + ", ".join(p for p, _ in reports) if reports else "",
            self.log_path, self.log_tail())

    def assert_clean_exit(self, testcase, want=0):
        """The process has ended with status want and left no sanitizer report."""
        testcase.assertEqual(self.returncode, want, self.describe_exit())
        reports = self.sanitizer_reports()
        testcase.assertEqual(reports, [], "sanitizer report(s) from %s:\n%s"
                             % (self.name, "\n".join(t[:4000] for _, t in reports)))

    def assert_stopped_cleanly(self, testcase, timeout=20):
        """SIGTERM, then exit 0 and no sanitizer report."""
        self.stop(timeout)
        self.assert_clean_exit(testcase, 0)
