// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>
    /// The first pass's extremes (integer minima and maxima of the floats' order-preserving bits) against IEEE 754:2019
    /// minimum and maximum taken one value at a time: −0 below +0, infinities and NaNs of any payload reported as not
    /// finite, wherever they sit (in the vector part of a segment or its tail), in each of the three scans.
    /// </summary>
    [TestClass]
    public sealed class SegmentScanTests
    {
        /// <summary>The scan under test.</summary>
        public enum Kind
        {
            /// <summary>Extremes only.</summary>
            Extremes,

            /// <summary>Extremes and the moments' first-pass sums.</summary>
            WithSums,

            /// <summary>Extremes and the values above a cut packed aside.</summary>
            Staging,
        }

        private static bool Run(Kind kind, float[] data, int start, int stride, int length, int count, out float min, out float max)
        {
            switch (kind)
            {
                case Kind.Staging:
                    return SegmentScan.ScanStaging(data, start, stride, length, count, float.MaxValue, new float[data.Length + 8], out _, out min, out max);
                default:
                    RunningMoments.Sums sums = default;
                    return SegmentScan.Scan(data, start, stride, length, count, kind == Kind.WithSums, out min, out max, ref sums);
            }
        }

        private static (float Min, float Max) Expected(float[] data, int start, int stride, int length, int count)
        {
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            for (int k = 0; k < count; k++)
            {
                for (int i = 0; i < length; i++)
                {
                    min = MathF.Min(min, data[start + (k * stride) + i]);
                    max = MathF.Max(max, data[start + (k * stride) + i]);
                }
            }

            return (min, max);
        }

        [TestMethod]
        [DataRow(Kind.Extremes)]
        [DataRow(Kind.WithSums)]
        [DataRow(Kind.Staging)]
        public void ExtremesFollowIeeeOrderWithSignedZeros(Kind kind)
        {
            var r = new Random(5);
            foreach (int length in new[] { 16, 37, 64 })
            {
                // Zeros of both signs and small magnitudes around them, in the vector part and the tail.
                float[] data = Enumerable.Range(0, 3 * length).Select(_ => r.Next(4) switch { 0 => -0f, 1 => 0f, 2 => r.Next(1, 5) / 8f, _ => -r.Next(1, 5) / 8f }).ToArray();
                foreach ((int start, int stride, int count) in new[] { (0, length, 3), (5, length, 2), (length, length, 1) })
                {
                    int segment = Math.Min(length, data.Length - start - ((count - 1) * stride));
                    Assert.IsTrue(Run(kind, data, start, stride, segment, count, out float min, out float max));
                    (float eMin, float eMax) = Expected(data, start, stride, segment, count);
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(eMin), BitConverter.SingleToInt32Bits(min), $"min, length {segment}");
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(eMax), BitConverter.SingleToInt32Bits(max), $"max, length {segment}");
                }
            }

            // Only non-negative values with a −0: the minimum is −0, not +0, in the vector part alone.
            float[] zeros = Enumerable.Repeat(0f, 32).ToArray();
            zeros[19] = -0f;
            zeros[3] = 2f;
            Assert.IsTrue(Run(kind, zeros, 0, 32, 32, 1, out float zeroMin, out float zeroMax));
            Assert.AreEqual(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(zeroMin));
            Assert.AreEqual(2f, zeroMax);
        }

        [TestMethod]
        [DataRow(Kind.Extremes)]
        [DataRow(Kind.WithSums)]
        [DataRow(Kind.Staging)]
        public void NonFiniteValuesOfAnyPayloadAreReported(Kind kind)
        {
            // Ordinary NaNs, the NaNs whose bits map to the accumulators' starting values, and infinities.
            float[] bad = { float.NaN, -float.NaN, BitConverter.Int32BitsToSingle(0x7FFFFFFF), BitConverter.Int32BitsToSingle(unchecked((int)0xFFFFFFFF)), float.PositiveInfinity, float.NegativeInfinity };
            foreach (float value in bad)
            {
                foreach (int position in new[] { 0, 9, 31, 33 })
                {
                    float[] data = Enumerable.Range(0, 34).Select(i => (i % 7) - 3f).ToArray();
                    data[position] = value;
                    Assert.IsFalse(Run(kind, data, 0, 34, 34, 1, out _, out _), $"{BitConverter.SingleToInt32Bits(value):X8} at {position}");
                }

                // The vector part made only of that value, alone or with a finite tail.
                float[] only = Enumerable.Repeat(value, 16).Append(1f).ToArray();
                Assert.IsFalse(Run(kind, only, 0, 16, 16, 1, out _, out _), $"{BitConverter.SingleToInt32Bits(value):X8} alone");
                Assert.IsFalse(Run(kind, only, 0, 17, 17, 1, out _, out _), $"{BitConverter.SingleToInt32Bits(value):X8} before a finite tail");
            }
        }

        [TestMethod]
        public void EmptySegmentsLeaveTheExtremesUnset()
        {
            RunningMoments.Sums sums = default;
            Assert.IsFalse(SegmentScan.Scan(new float[4], 0, 0, 0, 3, false, out float min, out float max, ref sums));
            Assert.AreEqual(float.PositiveInfinity, min);
            Assert.AreEqual(float.NegativeInfinity, max);
        }
    }
}
