#!/usr/bin/env bash
# vagrant, no VM (seconds): the Vagrantfile in a tree with no build directory, as in a clean
# clone, goes on to build in the guests instead of aborting, and its source archive is right.
#
#   1. provision/source_archive.rb (the Vagrantfile's code) on this checkout: carries the build's
#      inputs and the guest scripts, and no build tree, .git or .vagrant;
#   2. unpacked, that archive is a clean tree; a build-tree look-alike, .vagrant and a
#      .gitignore'd file are added to it, and the walk without git (a host with no git, or a
#      downloaded tree) must give the very same bytes;
#   3. if vagrant is installed (tests/vagrant/01-up-failover.sh installs it): `vagrant validate
#      --ignore-provider` in that tree passes (the file and shell provisioners' sources exist)
#      and leaves .vagrant/ispf-source.tar.gz, the same archive.
# No root, no network. Exit 77 when ruby is missing.
set -euo pipefail
source_dir=${ISPF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin_dir=${ISPF_BIN_DIR:-$source_dir/build}
work=$bin_dir/vagrant-clean-tree
NAME=vagrant-02-clean-tree

skip() { echo "SKIP: $NAME: $*"; exit 77; }
fail() { echo "FAIL: $NAME: $*"; exit 1; }
ok() { echo "  ok    $*"; }

command -v ruby >/dev/null || skip "ruby missing (provision/install-build-deps.sh installs it)"
rm -rf "$work"
mkdir -p "$work/tree"

# --- 1. The archive of this checkout.
ruby "$source_dir/provision/source_archive.rb" "$source_dir" "$work/checkout.tar.gz" | sed 's/^/   /'
tar -tzf "$work/checkout.tar.gz" >"$work/checkout.list"
for must in CMakeLists.txt Vagrantfile provision/source_archive.rb provision/build-in-guest.sh \
  provision/install-build-deps.sh packaging/build-deb.sh provision/common.sh; do
  grep -qx "$must" "$work/checkout.list" || fail "the archive lacks $must"
done
ok "the archive carries CMakeLists.txt, the Vagrantfile and the guest scripts"
junk=$(grep -E '^(build[^/]*|\.git|\.vagrant)/|(^|/)\.git/' "$work/checkout.list" | head -5 || true)
[[ -z $junk ]] || fail "the archive carries build trees or VCS files: $junk"
ok "no build tree, .git or .vagrant in it"

# --- 2. A clean tree, and the walk that a host without git does.
tree=$work/tree
tar -xzf "$work/checkout.tar.gz" -C "$tree"
mkdir -p "$tree/build-junk/CMakeFiles" "$tree/.vagrant/machines"
echo junk >"$tree/build-junk/CMakeCache.txt"
echo junk >"$tree/.vagrant/machines/index"
echo '[]' >"$tree/compile_commands.json"  # listed in .gitignore
ruby "$source_dir/provision/source_archive.rb" --walk "$tree" "$work/walk.tar.gz" | sed 's/^/   /'
cmp -s "$work/checkout.tar.gz" "$work/walk.tar.gz" || {
  diff <(tar -tvzf "$work/checkout.tar.gz") <(tar -tvzf "$work/walk.tar.gz") | head -20
  fail "the walk without git gives another archive than git ls-files"
}
ok "without git (walk, .gitignore honoured, build*/ and .vagrant skipped): the same bytes"
rm -rf "$tree/build-junk" "$tree/.vagrant" "$tree/compile_commands.json"

# --- 3. The Vagrantfile itself, in the clean tree.
if ! command -v vagrant >/dev/null; then
  echo "   note: vagrant not installed: the Vagrantfile was not evaluated (tests/vagrant/01 installs it)"
  echo "PASS: $NAME (archive checks only)"
  exit 0
fi
export VAGRANT_HOME=$work/vagrant.d VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_NO_COLOR=1
# `vagrant up` would evaluate it the same way; `validate` stops short of any provider.
if ! (cd "$tree" && env -u ISPF_DEB -u VAGRANT_CWD -u VAGRANT_DOTFILE_PATH \
  vagrant validate --ignore-provider) >"$work/validate.log" 2>&1; then
  cat "$work/validate.log"
  fail "vagrant validate failed in a tree with no build directory"
fi
ok "vagrant validate --ignore-provider in the clean tree: $(grep -c . "$work/validate.log") lines, passed"
# The archive exists only where the Vagrantfile found no prebuilt package and set up the
# in-guest build (the provisioners that validate just checked).
cmp -s "$tree/.vagrant/ispf-source.tar.gz" "$work/checkout.tar.gz" ||
  fail "the Vagrantfile's .vagrant/ispf-source.tar.gz differs from the checkout's archive"
ok "the Vagrantfile wrote .vagrant/ispf-source.tar.gz, the same bytes as the checkout's archive"
echo "PASS: $NAME"
