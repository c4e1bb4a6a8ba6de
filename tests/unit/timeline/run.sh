#!/usr/bin/env bash
# Unit test of the timeline pictures: fixed sample logs -> lab_timeline_data -> lab/timeline.gp.
# The samples (ours/, keepalived/ here) are a link-down run: fault at 1764680700, ping 20 ms apart
# with 90 ms lost at the fault, isp1 down from +0.003 s, the route to isp2 at +0.004 s and back at
# +5.5 s, isp2 at 30 % loss from +3.5 to +4.5 s; keepalived's isp1 in FAULT from +1 s.
# No privileges, no network: runs anywhere gnuplot does (exit 77, a ctest skip, where it does not).
# shellcheck disable=SC2016,SC2317  # awk conditions in single quotes; helpers run by lab_check
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ISPF_SOURCE_DIR=${ISPF_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
# The route monitor's timestamps are local time; the samples were written in UTC.
export TZ=UTC

command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed (Debian: gnuplot-nox)"; exit 77; }
command -v xmllint >/dev/null || command -v python3 >/dev/null ||
  { echo "SKIP: neither xmllint (libxml2-utils) nor python3 to check the SVG"; exit 77; }

# shellcheck source=lab/lib.sh
source "$ISPF_SOURCE_DIR/lab/lib.sh"
work=$(mktemp -d)
LAB_DIR=$work  # lab_finish names it on failure: the data and pictures are kept there
trap '((LAB_FAILURES)) || rm -rf "$work"' EXIT
# Is there a line in FILE whose fields match the awk condition COND?
has_row() { awk "$2 { found = 1 } END { exit !found }" "$1"; }

well_formed() {
  if command -v xmllint >/dev/null; then
    xmllint --noout "$1"
  else
    python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$1"
  fi
}

# Does the SVG have TEXT as a whole element text (a series title in <title>, a label in <tspan>)?
svg_has() {
  local text=${2//&/&amp;}  # XML escapes these two in text; gnuplot writes ">" as it is
  grep -qF -- ">${text//</&lt;}<" "$1"
}

echo "== timeline picture: sample logs -> TSV -> SVG"
t0=1764680700
LAB_DIR=$here/ours lab_timeline_data "$work/ours" "$t0" isp1
LAB_DIR=$here/keepalived lab_timeline_data "$work/kad" "$t0" isp1

lab_check "ping replies from -2 s" has_row "$work/ours/ping.tsv" 'NF == 2 && $1 < -1.9'
lab_check "ping replies to +6 s" has_row "$work/ours/ping.tsv" 'NF == 2 && $1 > 5.9'
lab_check "largest ping gap ~0.1 s at the fault" has_row "$work/ours/gapmax.tsv" '$1 >= -0.01 && $1 < 0.01 && $2 > 0.09 && $2 < 0.11'
lab_check "isp1 down from +0.003 s" has_row "$work/ours/bands.tsv" '$3 == 2 && $4 == "down" && $1 > 0 && $1 < 0.01'
lab_check "isp2 degraded by its loss" has_row "$work/ours/bands.tsv" '$3 == 1 && $4 == "degraded" && $1 > 3.4 && $1 < 3.9'
lab_check "route to isp2 at +0.004 s" has_row "$work/ours/active.tsv" '$2 == 1 && $1 > 0 && $1 < 0.01'
lab_check "route back to isp1 at +5.5 s" has_row "$work/ours/active.tsv" '$2 == 2 && $1 > 5.4 && $1 < 5.6'
lab_check "isp1's RTT line breaks while it is down" has_row "$work/ours/rtt-isp1.tsv" 'NF == 0'
lab_check "keepalived: isp1 in FAULT from +1 s" has_row "$work/kad/bands.tsv" '$3 == 2 && $4 == "FAULT" && $1 > 0.99 && $1 < 1.01'
lab_check "keepalived: nobody MASTER from +1 s to +2 s" has_row "$work/kad/active.tsv" '$2 == 0 && $1 > 0.99 && $1 < 1.01'
lab_check "keepalived: isp2 MASTER at +2 s" has_row "$work/kad/active.tsv" '$2 == 1 && $1 > 1.99 && $1 < 2.01'

one=$work/one.svg
two=$work/two.svg
lab_check "one column drawn" lab_timeline_svg "$one" "sample: isp1's link down" "isp1 link down" \
  "$work/ours" ispfailover ours 2.5
# A quote in a label must reach the picture, not end gnuplot's string.
LAB_REPAIR_LABEL="isp1's repair" \
  lab_check "two columns drawn (ours, keepalived)" lab_timeline_svg "$two" "sample: ours vs keepalived" \
  "isp1 link down" "$work/ours" "ispfailover (default)" ours 2.5 "$work/kad" "keepalived (tuned)" vrrp 2.5
for f in "$one" "$two"; do
  [[ -s $f.log ]] && sed 's/^/    gnuplot: /' "$f.log"
  lab_check "$(basename "$f") is well-formed XML" well_formed "$f"
done
for title in "echo reply" "no reply for > 50 ms" "largest gap 0.100 s" "up" "degraded (loss)" "down" \
  "default route via" "isp1" "isp2" "isp1 link down" "repair" "seconds from the fault" \
  "sample: isp1's link down"; do
  lab_check "one.svg shows \"$title\"" svg_has "$one" "$title"
done
for title in "isp1's repair" "MASTER" "BACKUP" "FAULT" "MASTER (carries the VIP)" "keepalived reports no RTT or loss" \
  "ispfailover (default): the client's ping (10 ms apart)" "keepalived (tuned): the client's ping (10 ms apart)"; do
  lab_check "two.svg shows \"$title\"" svg_has "$two" "$title"
done

# Event markers (lab.sh demo): a data directory with events.tsv gets them on its route panel.
ev=$work/events
cp -r "$work/ours" "$ev"
printf '%s\n' '0.0300 0.42 "reset (ECONNABORTED)"' '0.1000 0.14 "name lookup ok"' \
  '5.9000 0.42 "stream alive: 40 echoes since failback"' >"$ev/events.tsv"
three=$work/three.svg
lab_check "one column with event markers drawn" lab_timeline_svg "$three" "sample: with events" \
  "isp1 link down" "$ev" ispfailover ours 2.5
[[ -s $three.log ]] && sed 's/^/    gnuplot: /' "$three.log"
lab_check "three.svg is well-formed XML" well_formed "$three"
for title in "event" "reset (ECONNABORTED)" "name lookup ok" "stream alive: 40 echoes since failback"; do
  lab_check "three.svg shows \"$title\"" svg_has "$three" "$title"
done
lab_check "one.svg (no events.tsv) has no event markers" eval '! svg_has "$one" "event"'

lab_finish "timeline picture"
