"""A real IMAP server for the tests: Debian's dovecot, run in the foreground with its own config,
mailboxes and sockets in a temporary folder, listening on a free loopback port (no SSL, one user
with a plain password). scripts/test installs dovecot; without the binary the IMAP tests skip."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.mailsink import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER = "care@acme.test"
PASSWORD = "imap-test-password"

_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%n
mail_uid = {mail_uid}
mail_gid = {mail_gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
"""


def _accounts() -> tuple[str, str, int, int]:
    """(login user, internal user, mail uid, mail gid). As root, dovecot drops privileges to its
    own system users and refuses uid 0 for mail; as anyone else, everything runs as that user."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    nobody = pwd.getpwnam("nobody")
    return "dovenull", "dovecot", nobody.pw_uid, nobody.pw_gid


class Dovecot:
    def __init__(self) -> None:
        if DOVECOT is None:
            raise RuntimeError("dovecot is not installed")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = USER
        self.password = PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="ownwell-dovecot-"))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        login_user, internal_user, uid, gid = _accounts()
        # The mail user (not root) must reach its maildir under our folder.
        self.root.chmod(0o755)
        for sub in ("mail", "home"):
            (self.root / sub).mkdir()
            os.chown(self.root / sub, uid, gid)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        config = self.root / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                root=self.root,
                port=self.port,
                login_user=login_user,
                internal_user=internal_user,
                mail_uid=uid,
                mail_gid=gid,
            )
        )
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_listening()
        return self

    def _wait_until_listening(self, timeout: float = 20.0) -> None:
        """Wall-clock wait for a real server process to open its port, bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._stderr()}\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port} within {timeout} s: {self.log()}")

    def _stderr(self) -> str:
        if self._process is None or self._process.stderr is None:
            return ""
        return self._process.stderr.read().decode(errors="replace")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
