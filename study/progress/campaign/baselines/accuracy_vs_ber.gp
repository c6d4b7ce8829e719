set terminal pngcairo size 1000,640 noenhanced
set output 'build/study/campaign/baselines/accuracy_vs_ber.png.tmp'
set logscale x
set xrange [5e-08:0.0002]
set format x '%.0e'
set xlabel 'bit error rate'
set ylabel 'top-1 accuracy (%), mean and interval'
set yrange [0:100]
set key bottom left
set grid
plot 'build/study/campaign/baselines/accuracy_vs_ber.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) fp16 +clip', 'build/study/campaign/baselines/accuracy_vs_ber.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) fp16 +clipact', 'build/study/campaign/baselines/accuracy_vs_ber.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) fp32 +clip', 'build/study/campaign/baselines/accuracy_vs_ber.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) fp32 +clipact', 'build/study/campaign/baselines/accuracy_vs_ber.dat' index 4 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) q2.5 +clip', 'build/study/campaign/baselines/accuracy_vs_ber.dat' index 5 using 1:2:3:4 with yerrorlines lw 2 title 'resnet20_cifar10_none (none) q2.5 +clipact'
