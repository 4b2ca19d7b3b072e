#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "peftbench: not yet available\n");
    return 2;
}
