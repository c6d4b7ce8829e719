set terminal pngcairo size 1000,640 noenhanced
set output 'build/study/campaign/analysis_none/accuracy_vs_ber.png.tmp'
set logscale x
set xrange [5e-06:2e-05]
set format x '%.0e'
set xlabel 'bit error rate'
set ylabel 'top-1 accuracy (%), mean and interval'
set yrange [0:100]
set key bottom left
set grid
plot 'build/study/campaign/analysis_none/accuracy_vs_ber.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) fp32'
