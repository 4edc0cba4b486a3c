/* main.c: STUB CLI entry point (replaced by the real CLI). */
#include <stdio.h>
#include "eqspice.h"
int main(void) { printf("eqspice %s\n", EQS_VERSION); return 0; }
