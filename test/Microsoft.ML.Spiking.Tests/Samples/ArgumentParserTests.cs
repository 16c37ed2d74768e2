// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Samples;
using Microsoft.ML.Spiking.Samples.Cli;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Samples
{
    [TestClass]
    public sealed class ArgumentParserTests
    {
        [TestMethod]
        public void NoArgumentsGiveTheDefaults()
        {
            SampleOptions o = ArgumentParser.Parse(Array.Empty<string>());
            Assert.IsFalse(o.Help);
            Assert.IsNull(o.ModelFile);
            Assert.IsNull(o.ImageFolder);
            Assert.IsNull(o.Classes);
            Assert.IsNull(o.Size);
            Assert.AreEqual(1f / 255, o.Scale);
            Assert.IsNull(o.Mean);
            Assert.IsNull(o.Std);
            CollectionAssert.AreEqual(new[] { "all" }, o.RequestedMethods.ToArray());
            CollectionAssert.AreEqual(new[] { "rate", "differential", "parallel", "bitserial" }, o.Methods.ToArray());
            Assert.AreEqual(0, o.SkippedMethods.Count);
            CollectionAssert.AreEqual(new[] { 32 }, o.Steps.ToArray());
            Assert.IsFalse(o.StepsGiven);
            CollectionAssert.AreEqual(new[] { 32 }, MethodCatalog.StepsFor("rate", o).ToArray());
            CollectionAssert.AreEqual(new[] { 8 }, MethodCatalog.StepsFor("differential", o).ToArray());
            CollectionAssert.AreEqual(new[] { 4 }, MethodCatalog.StepsFor("bitserial", o).ToArray());
            Assert.IsNull(o.Thresholds);
            Assert.AreEqual(4, o.Levels);
            Assert.AreEqual(StatisticsGranularity.Channel, o.Granularity);
            Assert.IsNull(o.Calibration);
            Assert.IsNull(o.Limit);
            Assert.IsNull(o.Seed);
            Assert.AreEqual(64, o.Batch);
            Assert.IsNull(o.ReportFile);
            Assert.IsNull(o.PlotFolder);
        }

        [TestMethod]
        public void BothValueFormsAreAccepted()
        {
            SampleOptions spaced = ArgumentParser.Parse(new[]
            {
                "--model", "m.onnx", "--images", "imgs", "--classes", "a,b", "--size", "28x30", "--scale", "0.5", "--mean", "0.1,0.2,0.3",
                "--std", "1,2,3", "--method", "rate", "--steps", "4", "--thresholds", "max", "--granularity", "layer", "--calibration", "7",
                "--limit", "9", "--seed", "-3", "--batch", "5", "--report", "r.json", "--plots", "p",
            });
            SampleOptions joined = ArgumentParser.Parse(new[]
            {
                "--model=m.onnx", "--images=imgs", "--classes=a,b", "--size=28x30", "--scale=0.5", "--mean=0.1,0.2,0.3",
                "--std=1,2,3", "--method=rate", "--steps=4", "--thresholds=max", "--granularity=layer", "--calibration=7",
                "--limit=9", "--seed=-3", "--batch=5", "--report=r.json", "--plots=p",
            });
            foreach (SampleOptions o in new[] { spaced, joined })
            {
                Assert.AreEqual("m.onnx", o.ModelFile);
                Assert.AreEqual("imgs", o.ImageFolder);
                CollectionAssert.AreEqual(new[] { "a", "b" }, o.Classes!.ToArray());
                Assert.AreEqual(new ImageSize(28, 30), o.Size);
                Assert.AreEqual(0.5f, o.Scale);
                CollectionAssert.AreEqual(new[] { 0.1f, 0.2f, 0.3f }, o.Mean);
                CollectionAssert.AreEqual(new[] { 1f, 2f, 3f }, o.Std);
                CollectionAssert.AreEqual(new[] { "rate" }, o.Methods.ToArray());
                Assert.AreEqual(0, o.SkippedMethods.Count);
                CollectionAssert.AreEqual(new[] { 4 }, o.Steps.ToArray());
                Assert.AreEqual("max", o.Thresholds);
                Assert.AreEqual(StatisticsGranularity.Layer, o.Granularity);
                Assert.AreEqual(7, o.Calibration);
                Assert.AreEqual(9, o.Limit);
                Assert.AreEqual(-3, o.Seed);
                Assert.AreEqual(5, o.Batch);
                Assert.AreEqual("r.json", o.ReportFile);
                Assert.AreEqual("p", o.PlotFolder);
            }
        }

        [TestMethod]
        public void CommaListsAreSplitSortedAndDeduplicated()
        {
            SampleOptions o = ArgumentParser.Parse(new[] { "--steps", "16, 4,8,4", "--method", "rate,all", "--classes", "b, a ,c" });
            CollectionAssert.AreEqual(new[] { 4, 8, 16 }, o.Steps.ToArray());
            CollectionAssert.AreEqual(new[] { "rate", "differential", "parallel", "bitserial" }, o.Methods.ToArray());
            CollectionAssert.AreEqual(new[] { "b", "a", "c" }, o.Classes!.ToArray(), "class order is the model's: kept as given");
        }

        [TestMethod]
        public void HelpIsRecognized()
        {
            Assert.IsTrue(ArgumentParser.Parse(new[] { "--help" }).Help);
            Assert.IsTrue(ArgumentParser.Parse(new[] { "-h" }).Help);
            StringAssert.Contains(HelpText.Usage, "--calibration N");
            foreach (string name in MethodCatalog.MethodNames)
            {
                StringAssert.Contains(HelpText.Usage, name);
            }
        }

        [TestMethod]
        [DataRow("unknown option '--bogus' (see --help)", "--bogus")]
        [DataRow("unknown option '--bogus' (see --help)", "--bogus=1")]
        [DataRow("unexpected argument 'stray' (options start with --; see --help)", "stray")]
        [DataRow("unexpected argument '-x' (options start with --; see --help)", "-x")]
        [DataRow("option --steps needs a value", "--steps")]
        [DataRow("option --steps needs a value", "--steps", "--limit", "3")]
        [DataRow("option --steps needs a value", "--steps=")]
        [DataRow("option --limit is given more than once", "--limit", "3", "--limit=4")]
        [DataRow("--steps must be between 1 and 65536, got 0", "--steps", "0")]
        [DataRow("--steps expects a whole number, got 'eight'", "--steps", "8,eight")]
        [DataRow("--steps has an empty item in '8,,16'", "--steps", "8,,16")]
        [DataRow("--limit must be at least 1, got -5", "--limit", "-5")]
        [DataRow("--calibration expects a whole number, got '1.5'", "--calibration", "1.5")]
        [DataRow("--batch must be between 1 and 4096, got 0", "--batch", "0")]
        [DataRow("--size expects WxH in pixels (for example 32x32), got '32'", "--size", "32")]
        [DataRow("--size expects WxH in pixels (for example 32x32), got '0x32'", "--size", "0x32")]
        [DataRow("--scale must be a positive number, got '-1'", "--scale", "-1")]
        [DataRow("--scale expects a number, got 'big'", "--scale", "big")]
        [DataRow("--mean expects three values r,g,b, got 2", "--mean", "0.5,0.5")]
        [DataRow("--std values must be positive, got '0.2,0,0.2'", "--std", "0.2,0,0.2")]
        [DataRow("class 'a' appears twice in --classes", "--classes", "a,b,a")]
        [DataRow("unknown method 'spiky' for --method (expected rate, differential, parallel, bitserial or all)", "--method", "spiky")]
        [DataRow("unknown value 'median' for --thresholds (expected max, percentile, iteration)", "--thresholds", "median")]
        [DataRow("unknown value 'pixel' for --granularity (expected layer, channel or neuron)", "--granularity", "pixel")]
        [DataRow("--levels must be between 1 and 24, got 0", "--levels", "0")]
        [DataRow("bitserial sends T bits per activation (L = 2^T - 1 levels); --steps 32 is more than 24", "--method", "bitserial", "--steps", "32")]
        public void BadCommandLinesFailWithOneLine(string message, params string[] args)
        {
            var e = Assert.ThrowsExactly<UsageException>(() => ArgumentParser.Parse(args));
            Assert.AreEqual(message, e.Message);
            Assert.IsFalse(e.Message.Contains('\n', StringComparison.Ordinal));
        }

        [TestMethod]
        public void EveryMethodIsAvailable()
        {
            foreach (string method in MethodCatalog.MethodNames)
            {
                Assert.IsTrue(MethodCatalog.IsAvailable(method), method);
            }
        }

        [TestMethod]
        public void IterationThresholdsApplyToDifferentialCodingOnly()
        {
            Assert.AreEqual("iteration", ArgumentParser.Parse(new[] { "--thresholds=iteration", "--method", "differential" }).Thresholds);
            var e = Assert.ThrowsExactly<UsageException>(() => MethodCatalog.Configure("rate", "iteration", new SpikingConversionOptions()));
            Assert.AreEqual("--thresholds iteration applies to differential and bit-serial conversion; rate uses max or percentile", e.Message);
            var all = Assert.ThrowsExactly<UsageException>(() => ArgumentParser.Parse(new[] { "--thresholds=iteration", "--method", "parallel" }));
            Assert.AreEqual("--thresholds iteration applies to differential and bit-serial conversion; parallel uses max or percentile", all.Message);
        }

        [TestMethod]
        public void CatalogConfiguresTheConversionOptions()
        {
            var options = new SpikingConversionOptions();
            MethodCatalog.Configure("rate", "max", options);
            Assert.AreEqual(ConversionMethod.RateCoding, options.Method);
            Assert.AreEqual(ThresholdMethod.Max, options.Thresholds);
            MethodCatalog.Configure("rate", "percentile", options);
            Assert.AreEqual(ThresholdMethod.Percentile, options.Thresholds);
            MethodCatalog.Configure("differential", null, options);
            Assert.AreEqual(ConversionMethod.DifferentialCoding, options.Method);
            Assert.AreEqual(ThresholdMethod.Iteration, options.Thresholds, "differential's default");
            MethodCatalog.Configure("rate", null, options);
            Assert.AreEqual(ThresholdMethod.Percentile, options.Thresholds, "rate's default");
        }
    }
}
