// patchcore command line: train, predict.
int main() { return 0; }
