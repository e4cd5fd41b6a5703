#!/bin/sh
# Copy the newest FULL Hoziron backup (archive and its .sha256) off-host, then check the copy
# at the destination with `sha256sum -c` against that sidecar. Run by hoziron-offsite.service.
#
# Only scope "full" is shipped: an agents-only archive cannot rebuild the home, and a
# pre-restore safety backup is not a backup of the current state. The archive is verified
# here before it leaves (checksum, every entry, databases, audit chain), and the copy is
# checked there after it arrives: a copy that fails the check fails the unit.
#
# Settings (environment):
#   DEST_DIR   directory at the destination (required)
#   DEST_HOST  rsync/ssh host for a remote copy (user@host); empty: DEST_DIR is local
#              (an NFS or other mounted filesystem)
#   HOZIRON    the hoziron command (default: hoziron on PATH)
# Exit status: 0 when the copy is in place and checked; non-zero otherwise (also when there
# is no full backup at all: a daily off-site copy with nothing to copy is a broken schedule).
set -eu

: "${DEST_DIR:?set DEST_DIR to the destination directory}"
DEST_HOST=${DEST_HOST:-}
HOZIRON=${HOZIRON:-hoziron}

# `backup list --json` is newest first; pick the first record of scope "full".
archive=$("$HOZIRON" backup list --json | node -e '
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const full = JSON.parse(s).find((r) => r.scope === "full");
  if (full) process.stdout.write(full.path);
});')
if [ -z "$archive" ]; then
  echo "hoziron-offsite: no full backup in the storage path; nothing to copy" >&2
  exit 1
fi
name=$(basename "$archive")

"$HOZIRON" backup verify "$archive"

if [ -n "$DEST_HOST" ]; then
  # rsync writes to a temporary name and renames: a broken transfer leaves no archive
  # under the final name.
  rsync -a "$archive" "$archive.sha256" "$DEST_HOST:$DEST_DIR/"
  ssh "$DEST_HOST" "cd '$DEST_DIR' && sha256sum --check --strict '$name.sha256'"
else
  # Same rule locally: copy under a temporary name, then rename into place.
  cp -p "$archive" "$DEST_DIR/.$name.partial"
  mv -f "$DEST_DIR/.$name.partial" "$DEST_DIR/$name"
  cp -p "$archive.sha256" "$DEST_DIR/$name.sha256"
  (cd "$DEST_DIR" && sha256sum --check --strict "$name.sha256")
fi
echo "hoziron-offsite: copied and checked $name"
