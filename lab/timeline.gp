# Draws a failover run's timeline (TSV files from lab_timeline_data in lab/lib.sh) as an SVG.
#
# gnuplot -e "out='t.svg'; heading='...'; fault_label='...'; xmin=-2; xmax=8; ncols=1; \
#             dir1='DIR'; title1='ispfailover'; kind1='ours'; repair1=4.2" lab/timeline.gp
# ncols=2 adds a second column (dir2, title2, kind2, repair2) beside the first, same time axis.
# kind: 'ours' (ISP states from the datagrams, probe RTT, the client's route) or 'vrrp'
# (keepalived: each router's VRRP state from its notify script, and which one is MASTER).
# repair: seconds from the fault to the repair (or the second fault), NaN if there was none,
# labelled repair_label ("repair" unless given). The fault is at 0, labelled fault_label.
# events1 (events2), optional: a file of events (SECONDS Y "LABEL"), drawn as labelled markers
# on the route panel of a kind 'ours' column (Y in its "none" row, about -0.45 to 0.45); a
# label runs right of its marker in the left half of the panel, left of it in the right half.

if (!exists("ncols")) ncols = 1
if (!exists("heading")) heading = "failover timeline"
if (!exists("fault_label")) fault_label = "fault"
if (!exists("repair_label")) repair_label = "repair"

set terminal svg size 760 * ncols, 860 dynamic enhanced font "sans,12" background "white"
set output out
set datafile missing "NaN"
set encoding utf8

# Colours of the state bands: ours up/degraded/down, keepalived MASTER/BACKUP/FAULT.
band_rgb(s) = s eq "up" ? 0x2ca02c : s eq "degraded" ? 0xff9f1c : s eq "down" ? 0xd62728 : \
  s eq "MASTER" ? 0x2ca02c : s eq "BACKUP" ? 0x9ecae1 : s eq "FAULT" ? 0xd62728 : 0xbbbbbb

set multiplot layout 3, ncols columnsfirst title heading font "sans,15"
set xrange [xmin:xmax]
# The largest gap's label starts at the gap in the left half, and ends about there in the right
# half (the text is about a fifth of a panel wide), so the edge never cuts it.
gap_label_x(x) = x < (xmin + xmax) / 2.0 ? x : x - 0.24 * (xmax - xmin)
set grid xtics lc rgb "#dddddd"
set lmargin 11
set rmargin 3
# Keys in one row at the top of each panel, above the data (offsets make the room).
set key top right horizontal opaque box lc rgb "#cccccc" font "sans,10"

do for [c = 1:ncols] {
  dir = value("dir" . c)
  kind = value("kind" . c)
  repair = value("repair" . c)
  col_title = value("title" . c)
  events = exists("events" . c) ? value("events" . c) : ""

  # The fault (and the repair) as dashed vertical lines through every panel of the column.
  unset arrow
  unset label
  set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2 lw 1.5 lc rgb "#d62728" front
  if (repair == repair) {
    set arrow 2 from repair, graph 0 to repair, graph 1 nohead dt 2 lw 1.5 lc rgb "#1f77b4" front
  }

  # 1. The client's ping: the RTT of each reply; no line where replies are missing.
  # The two marks' labels at different heights: a repair soon after the fault would overlap.
  set title col_title . ": the client's ping (10 ms apart)" font "sans,13"
  set label 1 fault_label at 0, graph 0.82 offset 0.5, 0 tc rgb "#d62728" front
  if (repair == repair) {
    set label 2 repair_label at repair, graph 0.70 offset 0.5, 0 tc rgb "#1f77b4" front
  }
  set ylabel "reply RTT (ms)"
  set yrange [0:*]
  set offsets 0, 0, graph 0.3, 0
  set format x ""
  set xlabel ""
  plot dir . "/ping.tsv" using 1:2 with lines lw 1.2 lc rgb "#333333" title "echo reply", \
       dir . "/gaps.tsv" using ($1 + $2 / 2):(0) with points pt 9 ps 1.2 lc rgb "#d62728" \
         title "no reply for > 50 ms", \
       dir . "/gapmax.tsv" using (gap_label_x($1 + $2 / 2)):(0):(sprintf("largest gap %.3f s", $2)) \
         with labels left offset 1, 1.2 tc rgb "#d62728" notitle
  unset label

  # 2. Each ISP's state (bands) and the ISP that carries the traffic (black step). Ours: no
  # band where an ISP sent nothing for 3 heartbeats (failoverd calls it stale then).
  if (kind eq "vrrp") {
    set title col_title . ": VRRP state of each router, the MASTER carries the traffic"
  } else {
    set title col_title . ": each ISP's reported state and the client's default route"
  }
  set ylabel ""
  set ytics ("isp1" 2, "isp2" 1, "none" 0)
  set offsets 0, 0, 0, 0
  set yrange [-0.5:3.2]
  unset grid
  set grid xtics lc rgb "#dddddd"
  set style fill solid 0.85 noborder
  if (kind eq "vrrp") {
    plot dir . "/bands.tsv" using (($1 + $2) / 2):3:(($2 - $1) / 2):(0.28):(band_rgb(strcol(4))) \
           with boxxyerror lc rgb variable notitle, \
         NaN with boxes lc rgb band_rgb("MASTER") title "MASTER", \
         NaN with boxes lc rgb band_rgb("BACKUP") title "BACKUP", \
         NaN with boxes lc rgb band_rgb("FAULT") title "FAULT", \
         dir . "/active.tsv" using 1:2 with steps lw 3 lc rgb "black" title "MASTER (carries the VIP)"
  } else {
    if (strlen(events) > 0) {
      plot dir . "/bands.tsv" using (($1 + $2) / 2):3:(($2 - $1) / 2):(0.28):(band_rgb(strcol(4))) \
             with boxxyerror lc rgb variable notitle, \
           NaN with boxes lc rgb band_rgb("up") title "up", \
           NaN with boxes lc rgb band_rgb("degraded") title "degraded (loss)", \
           NaN with boxes lc rgb band_rgb("down") title "down", \
           NaN with boxes lc rgb "#999999" fs empty border lc rgb "#999999" title "silent (stale)", \
           dir . "/active.tsv" using 1:2 with steps lw 3 lc rgb "black" title "default route via", \
           events using 1:2 with points pt 7 ps 0.7 lc rgb "#6a3d9a" title "event", \
           events using ($1 < (xmin + xmax) / 2.0 ? $1 : NaN):2:3 with labels left offset 0.6, 0 \
             font "sans,9" tc rgb "#6a3d9a" notitle, \
           events using ($1 >= (xmin + xmax) / 2.0 ? $1 : NaN):2:3 with labels right offset -0.6, 0 \
             font "sans,9" tc rgb "#6a3d9a" notitle
    } else {
      plot dir . "/bands.tsv" using (($1 + $2) / 2):3:(($2 - $1) / 2):(0.28):(band_rgb(strcol(4))) \
             with boxxyerror lc rgb variable notitle, \
           NaN with boxes lc rgb band_rgb("up") title "up", \
           NaN with boxes lc rgb band_rgb("degraded") title "degraded (loss)", \
           NaN with boxes lc rgb band_rgb("down") title "down", \
           NaN with boxes lc rgb "#999999" fs empty border lc rgb "#999999" title "silent (stale)", \
           dir . "/active.tsv" using 1:2 with steps lw 3 lc rgb "black" title "default route via"
    }
  }
  set ytics autofreq

  # 3. Each ISP's probe RTT as its datagrams report it (keepalived's adverts carry none).
  set title col_title . (kind eq "vrrp" ? ": no probe RTT (VRRP adverts carry none)" : ": probe RTT reported by each ispprobed")
  set xlabel "seconds from the fault"
  set format x "%g"
  set ylabel "probe RTT (ms)"
  if (kind eq "vrrp") {
    set yrange [0:1]
    set label 3 "keepalived reports no RTT or loss" at graph 0.5, graph 0.5 center tc rgb "#777777"
    unset key
    plot NaN notitle
    set key
    unset label 3
  } else {
    set yrange [0:*]
    set offsets 0, 0, graph 0.3, 0
    plot dir . "/rtt-isp1.tsv" using 1:2 with linespoints pt 7 ps 0.3 lw 1.2 lc rgb "#1f77b4" title "isp1", \
         dir . "/rtt-isp2.tsv" using 1:2 with linespoints pt 7 ps 0.3 lw 1.2 lc rgb "#ff7f0e" title "isp2"
  }
}
unset multiplot
