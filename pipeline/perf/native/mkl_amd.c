/* MKL picks its kernels by CPU vendor: on an AMD CPU it runs its generic AVX2 path even where the CPU
 * has AVX-512. MKL asks this function, its own, whether the CPU is Intel's; a definition loaded before
 * torch's statically linked MKL takes its place (symbol interposition), and MKL then dispatches on the
 * CPU's feature flags alone. Measured on an AMD EPYC of family 26 (Zen 5), one thread: fp32 matmuls of
 * the MLP nets' shapes 2.3x faster (about 108 to 245 GFLOP/s). Built by `make setup` on AMD CPUs,
 * loaded by pipeline/perf/blas.py. The products are the same float32 sums, in another order: other last bits. */
int mkl_serv_intel_cpu_true(void) { return 1; }
