#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the installed sysusers.d and tmpfiles.d files make, run by systemd's own tools on the
installed tree (--root): the system user tokend with its home and no login shell, its group,
the three role groups and tokend-audit, /var/lib/tokend owned by tokend, mode 0700, and
/var/log/tokend owned by tokend and the group tokend-audit, set-group-ID, mode 2750."""

import os
import stat

import install_tree
from tap import skip

if os.geteuid() != 0:
    skip("needs root (systemd-tmpfiles gives the state directory to tokend)")
install_tree.need("systemd-sysusers", "systemd-tmpfiles")

tree = install_tree.Tree()


def entries(name):
    with open(tree.path(f"/etc/{name}")) as f:
        return {line.split(":")[0]: line.rstrip("\n").split(":") for line in f}


def test_sysusers_makes_tokend_the_role_groups_and_the_audit_readers_group():
    os.makedirs(tree.path("/etc"))
    install_tree.run(["systemd-sysusers", f"--root={tree.root}"])
    user = entries("passwd")["tokend"]
    assert user[5] == "/var/lib/tokend", user
    assert user[6].endswith("/nologin"), user
    groups = entries("group")
    assert user[3] == groups["tokend"][2], (user, groups["tokend"])
    for g in ("tokend-helpdesk", "tokend-provisioning", "tokend-kiosk", "tokend-audit"):
        assert g in groups, g
    assert int(user[2]) < 1000, f"tokend is not a system user: {user}"


def test_tmpfiles_gives_the_state_dir_to_tokend():
    install_tree.run(["systemd-tmpfiles", f"--root={tree.root}", "--create", "tokend.conf"])
    st = os.stat(tree.path("/var/lib/tokend"))
    user = entries("passwd")["tokend"]
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (int(user[2]), int(user[3])), (st, user)


def test_tmpfiles_gives_the_audit_dir_to_tokend_and_its_files_to_tokend_audit():
    """tmpfiles ran in the test before (the order meson gives is the order here)."""
    st = os.stat(tree.path("/var/log/tokend"))
    user = entries("passwd")["tokend"]
    readers = entries("group")["tokend-audit"]
    assert stat.S_ISDIR(st.st_mode)
    # Set-group-ID: what tokend creates in it is the group's.
    assert stat.S_IMODE(st.st_mode) == 0o2750, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (int(user[2]), int(readers[2])), (st, user, readers)


install_tree.main([test_sysusers_makes_tokend_the_role_groups_and_the_audit_readers_group,
                   test_tmpfiles_gives_the_state_dir_to_tokend,
                   test_tmpfiles_gives_the_audit_dir_to_tokend_and_its_files_to_tokend_audit],
                  tree)
