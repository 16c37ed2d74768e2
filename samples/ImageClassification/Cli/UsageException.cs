// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Samples.Cli
{
    /// <summary>A command line the sample cannot run: an unknown option, a missing or malformed value, an unavailable method (exit code 2).</summary>
    internal sealed class UsageException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">One line saying what is wrong with the command line.</param>
        public UsageException(string message)
            : base(message)
        {
        }
    }

    /// <summary>Files that do not fit together: a model whose input or class count the images cannot match, an empty image folder (exit code 1).</summary>
    internal sealed class SampleInputException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">One line saying what does not fit.</param>
        public SampleInputException(string message)
            : base(message)
        {
        }
    }
}
