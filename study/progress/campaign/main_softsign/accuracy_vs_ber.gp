set terminal pngcairo size 1000,640 noenhanced
set logscale x
set xrange [5e-08:0.0002]
set format x '%.0e'
set xlabel 'bit error rate'
set ylabel 'top-1 accuracy (%), mean and interval'
set yrange [0:100]
set key bottom left
set grid
plot 'accuracy_vs_ber.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title columnheader(1), 'accuracy_vs_ber.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title columnheader(1), 'accuracy_vs_ber.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title columnheader(1)
