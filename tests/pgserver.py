"""A private PostgreSQL server for the history tests: initdb and pg_ctl
from Debian's postgresql package, in a temporary folder, on a free
loopback port, with its socket in that folder; stopped and removed at the
end of the session. initdb refuses to run as root, so as root the server
runs as the `postgres` user (in a folder that user owns).

start() returns (server, None) or (None, why it cannot start), so the
tests that need it are skipped with the reason."""
import glob
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile


# The password of the role "secretive" (only the tests know it).
SECRET = "s3cret-pw-9731"


def _bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(os.path.join(d, t), os.X_OK) for t in ("initdb", "pg_ctl", "psql")):
            return d
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bindir, root, port, as_user):
        self.bindir, self.root, self.port, self.as_user = bindir, root, port, as_user
        self.data = root / "data"

    def _cmd(self, tool, *args):
        cmd = [os.path.join(self.bindir, tool)] + list(args)
        return (["runuser", "-u", self.as_user, "--"] + cmd) if self.as_user else cmd

    def url(self, db="pyab", user="pyab", password=None):
        auth = user + (f":{password}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="pyab"):
        """Runs SQL as the superuser; returns its output, unaligned, tuples only."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-d", self.url(db), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr}")
        return r.stdout.strip()

    def createdb(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}"', db="postgres")
        self.psql(f'CREATE DATABASE "{name}"', db="postgres")
        return self.url(name)

    def stop(self):
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start():
    bindir = _bindir()
    if bindir is None:
        return None, "PostgreSQL's initdb/pg_ctl/psql not found (apt-get install postgresql)"
    as_user = None
    root = pathlib.Path(tempfile.mkdtemp(prefix="pyab-pg-"))
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no postgres user for initdb"
        as_user = "postgres"
        os.chown(root, pw.pw_uid, pw.pw_gid)
    server = Server(bindir, root, _free_port(), as_user)
    r = subprocess.run(server._cmd("initdb", "-D", str(server.data), "-U", "pyab", "-A", "trust",
                                   "--no-sync", "-E", "UTF8"),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        return None, f"initdb failed: {r.stderr[-1000:]}"
    # Everyone is trusted but the role "secretive", which must give its password
    # (the credential tests); first match wins in pg_hba.conf.
    hba = server.data / "pg_hba.conf"
    st = os.stat(hba)
    hba.write_text("local all all trust\n"
                   "host all secretive 127.0.0.1/32 scram-sha-256\n"
                   "host all all 127.0.0.1/32 trust\n")
    os.chown(hba, st.st_uid, st.st_gid)
    # fsync off: a private, throw-away cluster; the server itself is never killed.
    opts = (f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c max_connections=50")
    r = subprocess.run(server._cmd("pg_ctl", "-D", str(server.data), "-o", opts, "-w",
                                   "-l", str(root / "server.log"), "start"),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        return None, f"pg_ctl start failed: {r.stderr[-500:]} {log[-1000:]}"
    server.createdb("pyab")
    server.psql(f"CREATE ROLE secretive LOGIN PASSWORD '{SECRET}'", db="postgres")
    server.psql("GRANT ALL ON DATABASE pyab TO secretive; ALTER DATABASE pyab OWNER TO secretive",
                db="postgres")
    return server, None
