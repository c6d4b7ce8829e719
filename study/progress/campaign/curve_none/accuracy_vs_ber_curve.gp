set terminal pngcairo size 1000,640 noenhanced
set output 'build/study/campaign/curve_none/accuracy_vs_ber_curve.png.tmp'
set logscale x
set format x '%.0e'
set xlabel 'bit error rate'
set ylabel 'top-1 accuracy (%), estimate and band'
set yrange [0:100]
set key bottom left
set grid
plot 'build/study/campaign/curve_none/accuracy_vs_ber_curve.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.2 lc 1 notitle, 'build/study/campaign/curve_none/accuracy_vs_ber_curve.dat' index 0 using 1:2 with lines lw 2 lc 1 title 'resnet20_cifar10_none (none) fp32'
