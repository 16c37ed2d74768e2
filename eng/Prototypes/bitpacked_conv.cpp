// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// Measurement harness for a candidate simulation kernel (issue 8, efficiency target); not part of the library.
// A spiking convolution's input is binary (a spike or none, the threshold folded into the weights), so a 3x3
// convolution with Cin = Cout = C (16, 32, 64: ResNet-20's three stages), padding 1, over R rows can read its
// input as bits: for every tap and every group of four input channels (a nibble) a table holds the 16 possible
// partial sums for all C outputs, and an output pixel is 9·C/4 table rows added (4x fewer vector operations than
// 9·C multiply-adds). "skip" visits only the non-zero nibbles; "lut8" reads bytes (tables of 256 partial sums per
// eight channels: half the rows, tables 16x larger). The library's kernel (src/Microsoft.ML.Spiking/Native/
// bit_conv_impl.h) grew from the nibble version. Compared here with a dense AVX-512 FMA convolution
// on float inputs in the same HWC layout (register-blocked over four pixels), on random spikes at two densities
// (ResNet-20's measured spike densities at the convolutions' inputs are 4-24 %); maxerr checks that both agree.
//
// Build and run (x86-64 with AVX-512):  g++ -O3 -march=native -o /tmp/bitpacked_conv eng/Prototypes/bitpacked_conv.cpp && /tmp/bitpacked_conv
#include <immintrin.h>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>
#include <chrono>
#include <random>
#include <cmath>
#include <algorithm>
using namespace std;
static double now(){ return chrono::duration<double>(chrono::steady_clock::now().time_since_epoch()).count(); }

template<int C> struct Layer {
  int H, W, R; float density;
  vector<float> w;        // [9][C in][C out]
  vector<float> xin;      // [R][H+2][W+2][C] floats 0/1
  vector<uint64_t> bits;  // [R][H+2][W+2] packed (C <= 64)
  vector<float> table;    // [9][C/4][16][C]
  vector<float> table8;   // [9][C/8][256][C]
  vector<float> out;      // [R][H][W][C]
  Layer(int h, int wd, int r, float d): H(h), W(wd), R(r), density(d) {
    mt19937 g(1); uniform_real_distribution<float> u(0,1);
    w.resize(9*C*C); for (auto& x: w) x = u(g) - 0.5f;
    xin.assign((size_t)R*(H+2)*(W+2)*C, 0.f); bits.assign((size_t)R*(H+2)*(W+2), 0);
    for (int r=0;r<R;r++) for (int y=1;y<=H;y++) for (int x=1;x<=W;x++) for (int c=0;c<C;c++) if (u(g) < d) {
      size_t p = ((size_t)r*(H+2)+y)*(W+2)+x; xin[p*C+c] = 1.f; bits[p] |= 1ull<<c; }
    table.assign((size_t)9*(C/4)*16*C, 0.f);
    for (int t=0;t<9;t++) for (int gq=0;gq<C/4;gq++) for (int idx=0;idx<16;idx++) for (int o=0;o<C;o++) {
      float s=0; for (int b=0;b<4;b++) if (idx>>b&1) s += w[((size_t)t*C + gq*4+b)*C + o];
      table[(((size_t)t*(C/4)+gq)*16+idx)*C+o] = s; }
    table8.assign((size_t)9*(C/8)*256*C, 0.f);
    for (int t=0;t<9;t++) for (int gq=0;gq<C/8;gq++) for (int idx=0;idx<256;idx++) for (int o=0;o<C;o++) {
      float s=0; for (int b=0;b<8;b++) if (idx>>b&1) s += w[((size_t)t*C + gq*8+b)*C + o];
      table8[(((size_t)t*(C/8)+gq)*256+idx)*C+o] = s; }
    out.assign((size_t)R*H*W*C, 0.f);
  }
  // Bytes instead of nibbles: half the table rows per pixel, tables 16x larger (L2 rather than L1).
  void lut8() {
    constexpr int V = C/16, G = C/8;
    for (int r=0;r<R;r++) for (int y=0;y<H;y++) for (int x=0;x<W;x++) {
      __m512 acc[V], acc2[V]; for (int v=0;v<V;v++) { acc[v]=_mm512_setzero_ps(); acc2[v]=_mm512_setzero_ps(); }
      for (int t=0;t<9;t++) { int dy=t/3, dx=t%3;
        uint64_t word = bits[((size_t)r*(H+2)+y+dy)*(W+2)+x+dx];
        const float* tb = &table8[(size_t)t*G*256*C];
        for (int gq=0;gq<G;gq++) { int idx=(word>>(8*gq))&255; const float* e = tb + ((size_t)gq*256+idx)*C;
          for (int v=0;v<V;v++) { if (t&1) acc2[v]=_mm512_add_ps(acc2[v], _mm512_loadu_ps(e+v*16)); else acc[v]=_mm512_add_ps(acc[v], _mm512_loadu_ps(e+v*16)); } }
      }
      float* o=&out[(((size_t)r*H+y)*W+x)*C]; for (int v=0;v<V;v++) _mm512_storeu_ps(o+v*16, _mm512_add_ps(acc[v], acc2[v]));
    }
  }
  // Dense: for each pixel pair block of 4 pixels, C/16 output vectors, FMA over 9*C inputs.
  void dense() {
    constexpr int V = C/16;
    for (int r=0;r<R;r++) for (int y=0;y<H;y++) for (int x=0;x<W;x+=4) {
      __m512 acc[4][V]; for (int p=0;p<4;p++) for (int v=0;v<V;v++) acc[p][v]=_mm512_setzero_ps();
      for (int t=0;t<9;t++) { int dy=t/3, dx=t%3;
        const float* src = &xin[(((size_t)r*(H+2)+y+dy)*(W+2)+x+dx)*C];
        const float* wt = &w[(size_t)t*C*C];
        for (int ci=0;ci<C;ci++) {
          for (int v=0;v<V;v++) { __m512 wv=_mm512_loadu_ps(wt+ci*C+v*16);
            for (int p=0;p<4;p++) acc[p][v]=_mm512_fmadd_ps(_mm512_set1_ps(src[p*C+ci]), wv, acc[p][v]); }
        }
      }
      float* o=&out[(((size_t)r*H+y)*W+x)*C]; for (int p=0;p<4;p++) for (int v=0;v<V;v++) _mm512_storeu_ps(o+p*C+v*16, acc[p][v]);
    }
  }
  void lut(bool skip) {
    constexpr int V = C/16, G = C/4;
    for (int r=0;r<R;r++) for (int y=0;y<H;y++) for (int x=0;x<W;x++) {
      __m512 acc[V]; for (int v=0;v<V;v++) acc[v]=_mm512_setzero_ps();
      for (int t=0;t<9;t++) { int dy=t/3, dx=t%3;
        uint64_t word = bits[((size_t)r*(H+2)+y+dy)*(W+2)+x+dx];
        const float* tb = &table[(size_t)t*G*16*C];
        if (skip) {
          uint64_t nz = word | (word>>1); nz |= nz>>2; nz &= 0x1111111111111111ull;
          while (nz) { int b = __builtin_ctzll(nz); nz &= nz-1; int gq=b>>2; int idx=(word>>b)&15;
            const float* e = tb + ((size_t)gq*16+idx)*C; for (int v=0;v<V;v++) acc[v]=_mm512_add_ps(acc[v], _mm512_loadu_ps(e+v*16)); }
        } else {
          for (int gq=0;gq<G;gq++) { int idx=(word>>(4*gq))&15; const float* e = tb + ((size_t)gq*16+idx)*C;
            for (int v=0;v<V;v++) acc[v]=_mm512_add_ps(acc[v], _mm512_loadu_ps(e+v*16)); }
        }
      }
      float* o=&out[(((size_t)r*H+y)*W+x)*C]; for (int v=0;v<V;v++) _mm512_storeu_ps(o+v*16, acc[v]);
    }
  }
};
template<int C> void run(int H, int R, float d) {
  Layer<C> L(H, H, R, d);
  auto best=[&](auto f){ double b=1e9; for(int i=0;i<5;i++){ double t0=now(); f(); b=min(b, now()-t0);} return b; };
  double td = best([&]{ L.dense(); }); vector<float> ref = L.out;
  double tl = best([&]{ L.lut(false); }); double err=0; for (size_t i=0;i<ref.size();i++) err=max(err,(double)fabsf(ref[i]-L.out[i]));
  double ts = best([&]{ L.lut(true); });
  double t8 = best([&]{ L.lut8(); }); double err8=0; for (size_t i=0;i<ref.size();i++) err8=max(err8,(double)fabsf(ref[i]-L.out[i]));
  double macs = 9.0*C*C*H*H*R;
  // GMAC/s for the table kernels: the dense multiply-adds they stand for, per second (one core).
  printf("C=%d %dx%d R=%d density %.2f: dense %.2f ms (%.0f GMAC/s)  lut %.2f ms (%.2fx dense, %.0f)  lut-skip %.2f ms (%.2fx, %.0f)  lut8 %.2f ms (%.2fx, %.0f)  maxerr %.2g %.2g\n",
    C,H,H,R,d, td*1e3, macs/td/1e9, tl*1e3, td/tl, macs/tl/1e9, ts*1e3, td/ts, macs/ts/1e9, t8*1e3, td/t8, macs/t8/1e9, err, err8);
}
int main(){
  for (float d : {0.05f, 0.15f}) { run<16>(32, 256, d); run<32>(16, 256, d); run<64>(8, 256, d); }
}
