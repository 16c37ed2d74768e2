// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Data;

namespace Microsoft.ML.Spiking
{
    /// <summary>The lazy view <see cref="SpikingTransformer.Transform"/> returns: input columns plus the spiking outputs.</summary>
    internal sealed class SpikingDataView : IDataView
    {
        private readonly SpikingTransformer _transformer;
        private readonly IDataView _source;

        public SpikingDataView(SpikingTransformer transformer, IDataView source, DataViewSchema schema)
        {
            _transformer = transformer;
            _source = source;
            Schema = schema;
        }

        public bool CanShuffle => false;

        public DataViewSchema Schema { get; }

        public long? GetRowCount() => _source.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            ArgumentNullException.ThrowIfNull(columnsNeeded, nameof(columnsNeeded));
            return new Cursor(_transformer, _source, Schema, columnsNeeded.Select(c => c.Index).ToHashSet());
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded, rand) };

        /// <summary>
        /// Reads <see cref="SpikingConversionOptions.BatchSize"/> source rows ahead, copying each input vector and each
        /// active passthrough value at once (source getters may reuse their buffers), simulates the batch in one call,
        /// then serves the cached rows in order.
        /// </summary>
        private sealed class Cursor : DataViewRowCursor
        {
            private readonly SpikingTransformer _transformer;
            private readonly DataViewRowCursor _source;
            private readonly DataViewSchema _schema;
            private readonly HashSet<int> _active;
            private readonly int _inputCount;
            private readonly bool _needsScores;
            private readonly Dictionary<int, ColumnCache> _passthrough;
            private readonly ValueGetter<VBuffer<float>>? _inputGetter;
            private readonly ValueGetter<DataViewRowId> _sourceIds;
            private readonly int _batchSize;
            private readonly float[] _inputs;
            private readonly DataViewRowId[] _ids;
            private RowScores[] _scores;
            private VBuffer<float> _row;
            private int _count;
            private int _current;
            private long _position;
            private bool _done;

            public Cursor(SpikingTransformer transformer, IDataView source, DataViewSchema schema, HashSet<int> active)
            {
                _transformer = transformer;
                _schema = schema;
                _active = active;
                _inputCount = source.Schema.Count;
                _needsScores = active.Any(i => i >= _inputCount);
                int inputIndex = transformer.CheckInputColumn(source.Schema);
                var sourceColumns = active.Where(i => i < _inputCount).Select(i => source.Schema[i]).ToList();
                if (_needsScores && !sourceColumns.Any(c => c.Index == inputIndex))
                {
                    sourceColumns.Add(source.Schema[inputIndex]);
                }
                _source = source.GetRowCursor(sourceColumns);
                _batchSize = Math.Max(1, transformer.Options.BatchSize);
                _passthrough = active.Where(i => i < _inputCount).ToDictionary(i => i, i => ColumnCache.Create(_source, source.Schema[i], this));
                _inputGetter = _needsScores ? _source.GetGetter<VBuffer<float>>(source.Schema[inputIndex]) : null;
                _sourceIds = _source.GetIdGetter();
                _inputs = new float[_needsScores ? _batchSize * transformer.Scorer.InputSize : 0];
                _ids = new DataViewRowId[_batchSize];
                _scores = Array.Empty<RowScores>();
                _row = default;
                _current = -1;
                _position = -1;
            }

            public override long Position => _position;

            public override long Batch => 0;

            public override DataViewSchema Schema => _schema;

            internal int Slot => _current;

            internal int BatchCapacity => _batchSize;

            public override bool MoveNext()
            {
                if (_current + 1 < _count)
                {
                    _current++;
                    _position++;
                    return true;
                }
                if (_done || !Fill())
                {
                    _done = true;
                    _current = -1;
                    return false;
                }
                _current = 0;
                _position++;
                return true;
            }

            private bool Fill()
            {
                int size = _transformer.Scorer.InputSize;
                _count = 0;
                while (_count < _batchSize && _source.MoveNext())
                {
                    _sourceIds(ref _ids[_count]);
                    foreach (ColumnCache cache in _passthrough.Values)
                    {
                        cache.Capture(_count);
                    }
                    if (_inputGetter != null)
                    {
                        _inputGetter(ref _row);
                        _row.CopyTo(_inputs.AsSpan(_count * size, size));
                    }
                    _count++;
                }
                if (_count == 0)
                {
                    return false;
                }
                if (_needsScores)
                {
                    float[] batch = _count == _batchSize ? _inputs : _inputs.AsSpan(0, _count * size).ToArray();
                    _scores = _transformer.Scorer.Score(batch, _count);
                }
                return true;
            }

            public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                if (!_active.Contains(column.Index))
                {
                    throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
                }
                Delegate getter = column.Index < _inputCount
                    ? _passthrough[column.Index].MakeGetter()
                    : OutputGetters.Make(_transformer, column.Index - _inputCount, () => CurrentScores());
                return getter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Invalid TValue in GetGetter: {typeof(TValue)} for column '{column.Name}' of type {column.Type}.");
            }

            private RowScores CurrentScores()
            {
                if (_current < 0)
                {
                    throw new InvalidOperationException("The cursor is not on a row.");
                }
                return _scores[_current];
            }

            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId value) =>
            {
                if (_current < 0)
                {
                    throw new InvalidOperationException("The cursor is not on a row.");
                }
                value = _ids[_current];
            };

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _source.Dispose();
                }
                base.Dispose(disposing);
            }
        }

        /// <summary>Per-row copies of one passthrough column's values for the rows read ahead.</summary>
        private abstract class ColumnCache
        {
            public static ColumnCache Create(DataViewRowCursor source, DataViewSchema.Column column, Cursor owner)
            {
                Type type = typeof(ColumnCache<>).MakeGenericType(column.Type.RawType);
                return (ColumnCache)Activator.CreateInstance(type, source, column, owner)!;
            }

            public abstract void Capture(int slot);

            public abstract Delegate MakeGetter();
        }

        private sealed class ColumnCache<T> : ColumnCache
        {
            private readonly ValueGetter<T> _getter;
            private readonly Cursor _owner;
            private readonly T[] _values;

            public ColumnCache(DataViewRowCursor source, DataViewSchema.Column column, Cursor owner)
            {
                _getter = source.GetGetter<T>(column);
                _owner = owner;
                _values = new T[owner.BatchCapacity];
            }

            public override void Capture(int slot)
            {
                // A fresh destination for every row, so no two cached rows share a buffer.
                T value = default!;
                _getter(ref value);
                _values[slot] = value;
            }

            public override Delegate MakeGetter() => (ValueGetter<T>)((ref T dst) =>
            {
                if (_owner.Slot < 0)
                {
                    throw new InvalidOperationException("The cursor is not on a row.");
                }
                dst = _values[_owner.Slot];
            });
        }
    }

    /// <summary>Getters for the added columns, in the order <see cref="SpikingTransformer.GetOutputSchema"/> adds them.</summary>
    internal static class OutputGetters
    {
        public static Delegate Make(SpikingTransformer transformer, int output, Func<RowScores> scores) => transformer.Outputs[output] switch
        {
            OutputKind.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => Copy(scores().Score, ref dst)),
            OutputKind.PredictedLabel => (ValueGetter<uint>)((ref uint dst) => dst = scores().PredictedKey),
            OutputKind.ScorePerStep => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => Copy(scores().ScorePerStep, ref dst)),
            OutputKind.SpikeCount => (ValueGetter<VBuffer<double>>)((ref VBuffer<double> dst) => Copy(scores().SpikeCounts, ref dst)),
            OutputKind.AnnScore => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => Copy(scores().AnnScore!, ref dst)),
            OutputKind.SpikesPerStep => (ValueGetter<VBuffer<double>>)((ref VBuffer<double> dst) => Copy(scores().SpikesPerStep, ref dst)),
            _ => (ValueGetter<VBuffer<double>>)((ref VBuffer<double> dst) => Copy(scores().SynapticOperationsPerStep, ref dst)),
        };

        private static void Copy<T>(T[] values, ref VBuffer<T> dst)
        {
            var editor = VBufferEditor.Create(ref dst, values.Length);
            values.AsSpan().CopyTo(editor.Values);
            dst = editor.Commit();
        }
    }
}
