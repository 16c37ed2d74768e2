// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Data;

namespace Microsoft.ML.Spiking
{
    /// <summary>Row-to-row form of the transformer, for prediction engines: each row is simulated on its own.</summary>
    internal sealed class SpikingRowMapper : IRowToRowMapper
    {
        private readonly SpikingTransformer _transformer;
        private readonly int _inputIndex;

        public SpikingRowMapper(SpikingTransformer transformer, DataViewSchema inputSchema, DataViewSchema outputSchema)
        {
            _transformer = transformer;
            InputSchema = inputSchema;
            OutputSchema = outputSchema;
            _inputIndex = transformer.CheckInputColumn(inputSchema);
        }

        public DataViewSchema InputSchema { get; }

        public DataViewSchema OutputSchema { get; }

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        {
            var needed = new HashSet<int>();
            foreach (DataViewSchema.Column c in dependingColumns)
            {
                needed.Add(c.Index < InputSchema.Count ? c.Index : _inputIndex);
            }
            return needed.Select(i => InputSchema[i]).ToList();
        }

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            ArgumentNullException.ThrowIfNull(input, nameof(input));
            return new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());
        }

        private sealed class Row : DataViewRow
        {
            private readonly SpikingRowMapper _mapper;
            private readonly DataViewRow _input;
            private readonly HashSet<int> _active;
            private readonly float[] _buffer;
            private ValueGetter<VBuffer<float>>? _inputGetter;
            private VBuffer<float> _row;
            private RowScores? _scores;
            private long _scoredPosition;

            public Row(SpikingRowMapper mapper, DataViewRow input, HashSet<int> active)
            {
                _mapper = mapper;
                _input = input;
                _active = active;
                _buffer = new float[mapper._transformer.Scorer.InputSize];
                _scoredPosition = -1;
            }

            public override long Position => _input.Position;

            public override long Batch => _input.Batch;

            public override DataViewSchema Schema => _mapper.OutputSchema;

            public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

            public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int inputCount = _mapper.InputSchema.Count;
                if (column.Index < inputCount)
                {
                    return _input.GetGetter<TValue>(_mapper.InputSchema[column.Index]);
                }
                return OutputGetters.Make(_mapper._transformer, column.Index - inputCount, Current) as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Invalid TValue in GetGetter: {typeof(TValue)} for column '{column.Name}' of type {column.Type}.");
            }

            private RowScores Current()
            {
                if (_scores == null || _scoredPosition != _input.Position)
                {
                    _inputGetter ??= _input.GetGetter<VBuffer<float>>(_mapper.InputSchema[_mapper._inputIndex]);
                    _inputGetter(ref _row);
                    _row.CopyTo(_buffer);
                    _scores = _mapper._transformer.Scorer.Score(_buffer, 1)[0];
                    _scoredPosition = _input.Position;
                }
                return _scores;
            }
        }
    }
}
