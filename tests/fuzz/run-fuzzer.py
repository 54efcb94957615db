#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs one libFuzzer target for a bounded time over its seeds, in a temporary working
directory of its own, and fails on any crash, leak, timeout or out-of-memory.

The time is TOKEND_FUZZ_SECONDS (default 60). New inputs go to a corpus in the working
directory, never to the seeds. On failure the working directory is kept, and every input
libFuzzer saved there is printed (hex and base64) with the end of its report; on success it is
removed, and the run's final figures are printed."""

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile

# Inputs libFuzzer saves when a run fails; "slow-unit-" inputs are only slow.
FAILURE_PREFIXES = ('crash-', 'leak-', 'timeout-', 'oom-')
REPORT_TAIL_LINES = 150


def print_artifact(path):
    with open(path, 'rb') as f:
        data = f.read()
    print(f'--- {os.path.basename(path)} ({len(data)} bytes): {path}')
    for off in range(0, min(len(data), 1024), 16):
        chunk = data[off:off + 16]
        text = ''.join(chr(b) if 32 <= b < 127 else '.' for b in chunk)
        print(f'{off:08x}  {chunk.hex(" "):<47}  {text}')
    if len(data) > 1024:
        print('...')
    print('base64:', base64.b64encode(data).decode())


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('target', help='the fuzz target executable')
    ap.add_argument('seeds', help='the directory of its generated seeds')
    ap.add_argument('--dict', help="the target's libFuzzer dictionary")
    args = ap.parse_args()

    seconds = int(os.environ.get('TOKEND_FUZZ_SECONDS', '60'))
    if seconds < 1:
        sys.exit('TOKEND_FUZZ_SECONDS must be at least 1')

    work = tempfile.mkdtemp(prefix='tokend-fuzz-')
    corpus = os.path.join(work, 'corpus')
    os.mkdir(corpus)
    log_path = os.path.join(work, 'fuzzer.log')
    cmd = [
        os.path.abspath(args.target),
        f'-max_total_time={seconds}',
        '-timeout=10',
        '-rss_limit_mb=2048',
        '-print_final_stats=1',
        f'-artifact_prefix={work}/',
    ]
    if args.dict:
        cmd.append(f'-dict={os.path.abspath(args.dict)}')
    cmd += [corpus, os.path.abspath(args.seeds)]

    env = dict(os.environ)
    # The targets that hand their parser a file write one for every input, and fsync it: on a
    # tmpfs that costs nothing. Whatever they leave is removed with it.
    shm = '/dev/shm'
    scratch = tempfile.mkdtemp(prefix='tokend-fuzz-', dir=shm if os.access(shm, os.W_OK) else work)
    env['TMPDIR'] = scratch
    # UBSan only reports by default: make every finding a crash that libFuzzer saves.
    env['UBSAN_OPTIONS'] = 'halt_on_error=1:print_stacktrace=1:' + env.get('UBSAN_OPTIONS', '')
    print('$', ' '.join(cmd), flush=True)
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait(timeout=seconds + 300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None

    shutil.rmtree(scratch, ignore_errors=True)

    with open(log_path, 'rb') as f:
        lines = f.read().decode(errors='replace').splitlines()
    artifacts = sorted(os.path.join(work, f) for f in os.listdir(work)
                       if f.startswith(FAILURE_PREFIXES))

    if rc == 0 and not artifacts:
        for line in lines:
            if '\tDONE ' in line or line.startswith('stat::') or line.startswith('Done '):
                print(line)
        shutil.rmtree(work, ignore_errors=True)
        return 0

    print('\n'.join(lines[-REPORT_TAIL_LINES:]))
    if rc is None:
        print(f'The fuzzer did not stop within {seconds + 300} s and was killed.')
    else:
        print(f'The fuzzer exited with status {rc}.')
    for path in artifacts:
        print_artifact(path)
    print(f'Kept the working directory {work} (fuzzer.log has the whole report); replay an '
          f'input with: {cmd[0]} INPUT')
    return 1


if __name__ == '__main__':
    sys.exit(main())
