module sluice/goservice

go 1.19
