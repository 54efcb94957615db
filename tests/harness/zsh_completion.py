# SPDX-License-Identifier: LGPL-2.1-or-later
"""zsh's completion of a command line, as a person gets it by pressing Tab: an interactive zsh
on a pseudo-terminal of its own, with compinit and the completion functions in a directory
(tokenctl's _tokenctl), and compadd wrapped so that every match offered is written to a file."""

import os
import pty
import select
import shutil
import signal
import tempfile
import time

ZSHRC = r"""
PS1='%% '
fpath=({fpath} $fpath)
autoload -Uz compinit && compinit -u -D
# Every match a completion function adds, written down; options that only fetch matches into
# an array (-O, -A, -D) are passed on untouched.
compadd() {{
    local -a hits
    if [[ ${{@[1,(i)(-|--)]}} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return
    fi
    builtin compadd -A hits "$@"
    print -rl -- $hits >> {hits}
    builtin compadd "$@"
}}
# zsh empties comppostfuncs after each completion: set it again every time.
_tk_done() {{ print -r -- '<done>' >> {hits}; compstate[insert]=''; compstate[list]='' }}
_tk_complete() {{ comppostfuncs=(_tk_done); _main_complete "$@" }}
zle -C tk-complete complete-word _tk_complete
bindkey '^I' tk-complete
"""


class ZshCompletion:
    def __init__(self, fpath, cwd):
        self.dir = tempfile.mkdtemp(prefix="tokend-zsh-")
        self.hits = os.path.join(self.dir, "hits")
        with open(os.path.join(self.dir, ".zshrc"), "w") as f:
            f.write(ZSHRC.format(fpath=fpath, hits=self.hits))
        zsh = shutil.which("zsh")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            # PATH leads nowhere, so completing a TOKEN does not ask some installed tokenctl.
            os.execve(zsh, ["zsh", "-i"], {"ZDOTDIR": self.dir, "HOME": self.dir,
                                            "TERM": "xterm", "PATH": "/nonexistent"})
        self._drain(1.0)

    def _drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    os.read(self.fd, 65536)
                except OSError:
                    return

    def complete(self, line):
        """The matches zsh offers for the last word of line."""
        open(self.hits, "w").close()
        os.write(self.fd, line.encode() + b"\t")
        end = time.monotonic() + 20
        while time.monotonic() < end:
            self._drain(0.05)
            with open(self.hits) as f:
                text = f.read()
            if "<done>" in text:
                os.write(self.fd, b"\x03")  # Ctrl-C leaves the line
                self._drain(0.2)
                return {l for l in text.splitlines() if l and l != "<done>"}
        raise AssertionError(f"zsh did not complete {line!r} in 20 s")

    def close(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        shutil.rmtree(self.dir, ignore_errors=True)
