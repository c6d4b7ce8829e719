set terminal pngcairo size 1400,600 noenhanced
set output 'cifar10-resnet20/accuracy_vs_ber.png.tmp'
# lines: exact-count strata curve (where its mean is known); points: sampled cells, 95 % intervals
set multiplot layout 1,2
set logscale x
set format x '%.0e'
set grid
set xlabel 'bit error rate (fp32 storage)'
set ylabel 'top-1 accuracy (%) on the CIFAR-10 test set'
set title 'all rates'
set xrange [5e-11:2e-4]
set yrange [0:100]
set key bottom left
plot 'cifar10-resnet20/accuracy_vs_ber.dat' index 0 using 1:2 with lines lw 2 lc 1 dt 1 title 'none', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 1 using ($1*0.8128):2:3:4 with yerrorbars pt 7 ps 0.8 lc 1 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 2 using 1:2 with lines lw 2 lc 2 dt 1 title 'tanh', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 3 using ($1*0.8710):2:3:4 with yerrorbars pt 7 ps 0.8 lc 2 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 4 using 1:2 with lines lw 2 lc 3 dt 1 title 'arctan', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 5 using ($1*0.9333):2:3:4 with yerrorbars pt 7 ps 0.8 lc 3 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 6 using 1:2 with lines lw 2 lc 4 dt 1 title 'softsign', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 7 using ($1*1.0000):2:3:4 with yerrorbars pt 7 ps 0.8 lc 4 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 8 using 1:2 with lines lw 2 lc 5 dt 1 title 'modtanh', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 9 using ($1*1.0715):2:3:4 with yerrorbars pt 7 ps 0.8 lc 5 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 10 using 1:2 with lines lw 2 lc 6 dt 2 title 'none_to_tanh', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 11 using ($1*1.1482):2:3:4 with yerrorbars pt 7 ps 0.8 lc 6 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 12 using 1:2 with lines lw 2 lc 7 dt 2 title 'none_to_softsign', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 13 using ($1*1.2303):2:3:4 with yerrorbars pt 7 ps 0.8 lc 7 notitle
set title 'the SAF models from BER 1e-7 (zoom)'
set xrange [5e-8:2e-4]
set yrange [60:94]
unset key
plot 'cifar10-resnet20/accuracy_vs_ber.dat' index 0 using 1:2 with lines lw 2 lc 1 dt 1 title 'none', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 1 using ($1*0.8128):2:3:4 with yerrorbars pt 7 ps 0.8 lc 1 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 2 using 1:2 with lines lw 2 lc 2 dt 1 title 'tanh', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 3 using ($1*0.8710):2:3:4 with yerrorbars pt 7 ps 0.8 lc 2 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 4 using 1:2 with lines lw 2 lc 3 dt 1 title 'arctan', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 5 using ($1*0.9333):2:3:4 with yerrorbars pt 7 ps 0.8 lc 3 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 6 using 1:2 with lines lw 2 lc 4 dt 1 title 'softsign', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 7 using ($1*1.0000):2:3:4 with yerrorbars pt 7 ps 0.8 lc 4 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 8 using 1:2 with lines lw 2 lc 5 dt 1 title 'modtanh', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 9 using ($1*1.0715):2:3:4 with yerrorbars pt 7 ps 0.8 lc 5 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 10 using 1:2 with lines lw 2 lc 6 dt 2 title 'none_to_tanh', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 11 using ($1*1.1482):2:3:4 with yerrorbars pt 7 ps 0.8 lc 6 notitle, \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 12 using 1:2 with lines lw 2 lc 7 dt 2 title 'none_to_softsign', \
     'cifar10-resnet20/accuracy_vs_ber.dat' index 13 using ($1*1.2303):2:3:4 with yerrorbars pt 7 ps 0.8 lc 7 notitle
unset multiplot
