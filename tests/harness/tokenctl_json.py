# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl --json against its JSON Schemas (docs/tokenctl-json), for the tests: the schemas
loaded and checked, tokenctl run with its output validated, and a record of which schemas were
met as a result and as an error. Skips the test program where the jsonschema module is
missing (Debian: python3-jsonschema)."""

import glob
import json
import os
import subprocess

from tap import skip

try:
    import jsonschema
except ImportError:
    skip("the Python module jsonschema is not installed (Debian: python3-jsonschema)")


def load_schemas():
    """{name: schema} of every docs/tokenctl-json/NAME.schema.json, each checked as a schema."""
    directory = os.path.join(os.environ["TOKEND_SOURCE_DIR"], "docs", "tokenctl-json")
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.schema.json"))):
        with open(path) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        out[os.path.basename(path)[:-len(".schema.json")]] = schema
    return out


class TokenctlJson:
    def __init__(self, tokenctl, env):
        self.tokenctl = tokenctl
        self.env = env
        self.schemas = load_schemas()
        self.checked = set()  # (schema, "result" or "error")
        self.results = {}  # schema: the last result met

    def validate(self, name, doc):
        """doc against schema name, with the clearest of the errors when it does not fit."""
        v = jsonschema.Draft202012Validator(self.schemas[name])
        err = jsonschema.exceptions.best_match(v.iter_errors(doc))
        if err is not None:
            raise AssertionError(f"{name}.schema.json: {err.message} at "
                                 f"{'/'.join(map(str, err.absolute_path))}\n{json.dumps(doc)}")

    def refused(self, name, doc):
        return not jsonschema.Draft202012Validator(self.schemas[name]).is_valid(doc)

    def run(self, schema, *args, stdin=None, expect=0, as_user=None):
        """tokenctl --json ARGS: exit status as expected, one document on standard output and
        nothing on standard error, valid for the schema (the result on success, the error
        document otherwise, with the exit status in it). as_user: a uid to run it as, from a
        copy that user can reach."""
        cmd, cwd = [self.tokenctl, "--json", *args], None
        if as_user:
            cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups",
                   self.env.copy_for_other_users(self.tokenctl), "--json", *args]
            cwd = self.env.other_users_dir()
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=self.env.env,
                           timeout=120, start_new_session=True, cwd=cwd)
        assert p.returncode == expect, (f"tokenctl --json {' '.join(args)}: exit {p.returncode}, "
                                        f"wanted {expect}\n{p.stdout}\n{p.stderr}")
        assert p.stderr == "", (args, p.stderr)
        doc = json.loads(p.stdout)
        self.validate(schema, doc)
        # Exit status 9 (a certificate due, --expiry-warn) comes with the result.
        if expect in (0, 9):
            assert "error" not in doc, doc
            self.results[schema] = doc
        else:
            assert doc["error"]["exit-code"] == expect, doc
            self.validate("error", doc)
        self.checked.add((schema, "result" if expect == 0 else "error"))
        return doc
