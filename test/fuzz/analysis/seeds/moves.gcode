G90
M82
G92 E0
G1 X10 Y10 Z0.2 E1 F1200
G2 X20 Y10 I5 J0 E2
G91
G1 Z1
M83
G1 E-1
T1
G1 X1 E1
G28
G4 S1
; estimated printing time (normal mode) = 1d 2h 3m 4s
;TIME:3723
