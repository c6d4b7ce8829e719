set terminal pngcairo size 1000,640 noenhanced
set output 'build/study/campaign/analysis_none/per_bit.png.tmp'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'top-1 accuracy (%) under faults'
set yrange [0:100]
set xtics rotate by -60
set key outside bottom center
set xlabel 'faulty bit position (0 = LSB)'
plot 'build/study/campaign/analysis_none/per_bit.dat' index 0 using 2:xtic(1) title 'resnet20_cifar10_none (none) fp32 @1e-05'
