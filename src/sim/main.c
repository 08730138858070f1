/* main.c: placeholder until the simulator lands */
#include <stdio.h>
int main(void) { puts("printbridge-sim"); return 0; }
