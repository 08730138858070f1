/* main.c: placeholder until the daemon lands */
#include <stdio.h>
int main(void) { puts("printbridge"); return 0; }
