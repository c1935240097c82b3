"""Drive a real program in a real terminal: a detached tmux session on a private socket.

The end-to-end tests type with `send-keys` and read the screen with `capture-pane`, the
way a responder would use the console.  Each session gets its own tmux server socket so
tests never touch anyone's tmux, and `close()` ends exactly that server.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path


def tmux_binary() -> str:
    """Path of tmux; its absence is a failure (CI installs it), never a skip."""
    path = shutil.which("tmux")
    assert path, "tmux is not installed: these end-to-end tests need it (apt-get install tmux)"
    return path


class TmuxSession:
    """One detached session running `command` in `cwd` on a `width` x `height` terminal."""

    def __init__(self, command: str, *, width: int, height: int, cwd: str,
                 env: dict[str, str] | None = None) -> None:
        self.socket = f"ddbtrail-test-{uuid.uuid4().hex[:8]}"
        self.name = "console"
        # The program waits for a first Enter, sent once tmux reports the final size: a
        # program that starts before the window is resized can miss the resize.  The pane
        # stays after the program exits, so a crash leaves its traceback to read.
        shell = f"read _; {command}; echo; echo \"[exited with status $?]\"; sleep 3600"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                   "-c", cwd, f"{'env ' + exports + ' ' if exports else ''}sh -c {shlex.quote(shell)}")
        self._tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))
        size = self._tmux("display-message", "-p", "-t", self.name, "#{pane_width}x#{pane_height}")
        assert size.strip() == f"{width}x{height}", f"tmux made a {size.strip()} pane"
        self.send("Enter")

    def _tmux(self, *args: str) -> str:
        return subprocess.run([tmux_binary(), "-L", self.socket, "-f", "/dev/null", *args],
                              check=True, capture_output=True, text=True, timeout=30).stdout

    def send(self, *keys: str) -> None:
        """Key names as tmux knows them: "Enter", "Escape", "C-p", or single characters."""
        self._tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        """Type `text` literally (no key-name lookup)."""
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, check, timeout: float = 30.0, what: str = "") -> str:
        """Poll the screen until `check(screen)` is true (or `check` is a substring of it)."""
        test = (lambda s: check in s) if isinstance(check, str) else check
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what or check!r}; "
                             f"the screen shows:\n{screen}")

    def close(self) -> None:
        """End this session's tmux server and remove its socket file."""
        socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()
        subprocess.run([tmux_binary(), "-L", self.socket, "kill-server"],
                       capture_output=True, timeout=30)
        if socket_path:
            Path(socket_path).unlink(missing_ok=True)

    def __enter__(self) -> "TmuxSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def private_demo(cache_home) -> tuple[dict[str, str], "EventTable"]:
    """The demo incident written under `cache_home` (as `XDG_CACHE_HOME`) and loaded by the core.

    Returns the environment that makes `ddbtrail demo` use exactly that tree, and the table
    the expected counts are computed from, so a console run never races another process
    regenerating the shared cache.
    """
    from loaders import LoadOptions, load
    from loaders.demo import demo_dir, write_demo

    env = {"XDG_CACHE_HOME": str(cache_home)}
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache_home)
    try:
        root = write_demo(demo_dir())
    finally:
        if saved is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    table, _ = load([str(root)], LoadOptions())
    return env, table
