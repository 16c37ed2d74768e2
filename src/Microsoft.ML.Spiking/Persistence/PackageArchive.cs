// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// Read access to a package's zip entries. A file that is not a zip, an entry that is missing, cannot be
    /// inflated or fails its CRC-32 (which <see cref="ZipArchive"/> does not check) all become a
    /// <see cref="FormatException"/> naming the entry.
    /// </summary>
    internal sealed class PackageArchive : IDisposable
    {
        private static readonly uint[] s_crcTable = BuildCrcTable();

        private readonly ZipArchive _zip;

        public PackageArchive(Stream stream, string source)
        {
            Source = source;
            try
            {
                _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            }
            catch (InvalidDataException e)
            {
                throw new FormatException($"{source} is not a spiking package: it is not a readable zip archive (truncated or corrupt). {e.Message}", e);
            }
        }

        /// <summary>Where the package came from (a path or "stream"), for messages.</summary>
        public string Source { get; }

        public bool Contains(string entry) => _zip.GetEntry(entry) != null;

        public byte[] ReadBytes(string name)
        {
            ZipArchiveEntry entry = _zip.GetEntry(name)
                ?? throw new FormatException($"Spiking package entry '{name}' is missing from {Source}.");
            if (entry.Length > Array.MaxLength)
            {
                throw new FormatException($"Spiking package entry '{name}' in {Source} declares {entry.Length} bytes, more than can be read.");
            }
            var bytes = new byte[entry.Length];
            try
            {
                using Stream stream = entry.Open();
                int read = 0;
                while (read < bytes.Length)
                {
                    int n = stream.Read(bytes, read, bytes.Length - read);
                    if (n == 0)
                    {
                        throw new FormatException($"Spiking package entry '{name}' in {Source} ends after {read} of its {bytes.Length} bytes: it is truncated.");
                    }
                    read += n;
                }
                if (stream.ReadByte() >= 0)
                {
                    throw new FormatException($"Spiking package entry '{name}' in {Source} holds more than the {bytes.Length} bytes its header declares: it is corrupt.");
                }
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                throw new FormatException($"Spiking package entry '{name}' in {Source} cannot be read: {e.Message}", e);
            }
            uint crc = Crc32(bytes);
            if (crc != entry.Crc32)
            {
                throw new FormatException($"Spiking package entry '{name}' in {Source} is corrupt: its CRC-32 is {crc:X8}, the archive records {entry.Crc32:X8}.");
            }
            return bytes;
        }

        public string ReadText(string name)
        {
            byte[] bytes = ReadBytes(name);
            try
            {
                return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException e)
            {
                throw new FormatException($"Spiking package entry '{name}' in {Source} is not valid UTF-8 text.", e);
            }
        }

        public void Dispose() => _zip.Dispose();

        /// <summary>CRC-32 (IEEE 802.3, the zip polynomial).</summary>
        internal static uint Crc32(ReadOnlySpan<byte> data)
        {
            uint crc = 0xFFFFFFFFu;
            foreach (byte b in data)
            {
                crc = s_crcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }
            return crc ^ 0xFFFFFFFFu;
        }

        private static uint[] BuildCrcTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                uint c = i;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                }
                table[i] = c;
            }
            return table;
        }
    }
}
