// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using Microsoft.ML.Spiking.Graph;
using Microsoft.VisualStudio.TestTools.UnitTesting;

[assembly: Parallelize(Scope = ExecutionScope.MethodLevel, Workers = 2)]

namespace Microsoft.ML.Spiking.Tests
{
    [TestClass]
    public sealed class SmokeTests
    {
        [TestMethod]
        public void BroadcastFollowsNumpyRules()
        {
            CollectionAssert.AreEqual(new[] { 16, 4, 4 }, ShapeUtil.Broadcast(new[] { 16, 4, 4 }, new[] { 16, 1, 1 }));
            Assert.IsNull(ShapeUtil.Broadcast(new[] { 16, 4, 4 }, new[] { 3, 1, 1 }));
        }
    }
}
