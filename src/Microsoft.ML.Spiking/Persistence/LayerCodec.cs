// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// The serialized form of every IR layer: <c>{"type", "name", "sourceOpType", "inputs", "output", "parameters"}</c>,
    /// where <c>parameters</c> holds every constructor argument beyond the wiring. Tensors and float vectors are
    /// references to binary entries (<see cref="TensorWriter"/>); scalars and integer lists are inline. The type tags
    /// are fixed strings, independent of the C# class names. A layer type without a case here cannot be saved
    /// (<see cref="NotSupportedException"/>), so a new layer is never silently dropped.
    /// </summary>
    internal static class LayerCodec
    {
        /// <summary>Every type tag this version reads and writes.</summary>
        internal static readonly IReadOnlyList<string> Tags = new[]
        {
            "Conv", "Dense", "BatchNorm", "ChannelAffine", "Relu", "Clip", "Floor", "Qcfs", "Softmax", "Pool",
            "GlobalAveragePool", "Binary", "ConstBinary", "Concat", "Reshape", "Transpose", "IfNeuron",
            "MultiThresholdNeuron", "GradedUnit", "MaxPoolNeuron", "BitSerialNeuron", "ParallelNeuron", "LayerNorm", "Gelu",
            "MatMul", "Gather", "Slice", "BroadcastConstant", "NeuronSite",
        };

        public static JsonObject Write(Layer layer, TensorWriter tensors)
        {
            var p = new JsonObject();
            string tag;
            switch (layer)
            {
                case ConvLayer conv:
                    tag = "Conv";
                    p["weight"] = tensors.Add(conv.Weight);
                    p["bias"] = tensors.AddOptional(conv.Bias);
                    p["strides"] = JsonScope.IntsNode(conv.Strides);
                    p["pads"] = JsonScope.IntsNode(conv.Pads);
                    p["dilations"] = JsonScope.IntsNode(conv.Dilations);
                    p["group"] = conv.Group;
                    break;
                case DenseLayer dense:
                    tag = "Dense";
                    p["weight"] = tensors.Add(dense.Weight);
                    p["bias"] = tensors.AddOptional(dense.Bias);
                    break;
                case BatchNormLayer bn:
                    tag = "BatchNorm";
                    p["gamma"] = tensors.Add(bn.Gamma);
                    p["beta"] = tensors.Add(bn.Beta);
                    p["mean"] = tensors.Add(bn.Mean);
                    p["variance"] = tensors.Add(bn.Variance);
                    p["epsilon"] = JsonScope.FloatNode(bn.Epsilon);
                    break;
                case ChannelAffineLayer affine:
                    tag = "ChannelAffine";
                    p["scale"] = tensors.Add(affine.Scale);
                    p["shift"] = tensors.Add(affine.Shift);
                    break;
                case ReluLayer:
                    tag = "Relu";
                    break;
                case ClipLayer clip:
                    tag = "Clip";
                    p["min"] = JsonScope.FloatNode(clip.Min);
                    p["max"] = JsonScope.FloatNode(clip.Max);
                    break;
                case FloorLayer:
                    tag = "Floor";
                    break;
                case QcfsLayer qcfs:
                    tag = "Qcfs";
                    p["lambda"] = tensors.Add(qcfs.Lambda);
                    p["levels"] = qcfs.Levels;
                    break;
                case SoftmaxLayer softmax:
                    tag = "Softmax";
                    p["axis"] = softmax.Axis;
                    p["log"] = softmax.Log;
                    break;
                case PoolLayer pool:
                    tag = "Pool";
                    p["kind"] = pool.Kind.ToString();
                    p["kernel"] = JsonScope.IntsNode(pool.Kernel);
                    p["strides"] = JsonScope.IntsNode(pool.Strides);
                    p["pads"] = JsonScope.IntsNode(pool.Pads);
                    p["ceilMode"] = pool.CeilMode;
                    p["countIncludePad"] = pool.CountIncludePad;
                    break;
                case GlobalAveragePoolLayer:
                    tag = "GlobalAveragePool";
                    break;
                case BinaryLayer binary:
                    tag = "Binary";
                    p["op"] = binary.Op.ToString();
                    break;
                case ConstBinaryLayer constBinary:
                    tag = "ConstBinary";
                    p["op"] = constBinary.Op.ToString();
                    p["constant"] = tensors.Add(constBinary.Constant);
                    p["constantOnLeft"] = constBinary.ConstantOnLeft;
                    break;
                case ConcatLayer concat:
                    tag = "Concat";
                    p["axis"] = concat.Axis;
                    break;
                case ReshapeLayer reshape:
                    tag = "Reshape";
                    p["targetShape"] = JsonScope.IntsNode(reshape.TargetShape);
                    break;
                case TransposeLayer transpose:
                    tag = "Transpose";
                    p["permutation"] = JsonScope.IntsNode(transpose.Permutation);
                    break;
                case IfNeuronLayer neuron:
                    tag = "IfNeuron";
                    p["threshold"] = tensors.Add(neuron.Threshold);
                    p["initialMembrane"] = JsonScope.FloatNode(neuron.InitialMembrane);
                    p["reset"] = neuron.Reset.ToString();
                    break;
                case ParallelNeuronLayer parallel:
                    tag = "ParallelNeuron";
                    p["threshold"] = tensors.Add(parallel.Threshold);
                    p["amplitude"] = tensors.Add(parallel.Amplitude);
                    p["stepShift"] = tensors.Add(parallel.StepShift);
                    p["order"] = parallel.Order.ToString();
                    break;
                case BitSerialNeuronLayer bitSerial:
                    tag = "BitSerialNeuron";
                    p["lambda"] = tensors.Add(bitSerial.Lambda);
                    p["bits"] = bitSerial.Bits;
                    p["shift"] = bitSerial.Shift;
                    break;
                case MultiThresholdNeuronLayer mt:
                    tag = "MultiThresholdNeuron";
                    p["threshold"] = tensors.Add(mt.Threshold);
                    p["levels"] = mt.Levels;
                    p["gated"] = mt.Gated;
                    p["rule"] = mt.Rule.ToString();
                    p["differential"] = mt.Differential;
                    p["bias"] = tensors.AddOptional(mt.Bias);
                    break;
                case GradedUnitLayer unit:
                    tag = "GradedUnit";
                    p["function"] = Write(unit.Function, tensors);
                    for (int i = 0; i < unit.Biases.Count; i++)
                    {
                        p[$"bias{i}"] = tensors.AddOptional(unit.Biases[i]);
                    }
                    break;
                case MaxPoolNeuronLayer pool:
                    tag = "MaxPoolNeuron";
                    p["pool"] = Write(pool.Pool, tensors);
                    p["bias"] = tensors.AddOptional(pool.Bias);
                    break;
                case LayerNormLayer norm:
                    tag = "LayerNorm";
                    p["scale"] = tensors.Add(norm.Scale);
                    p["bias"] = tensors.AddOptional(norm.Bias);
                    p["epsilon"] = JsonScope.FloatNode(norm.Epsilon);
                    break;
                case GeluLayer gelu:
                    tag = "Gelu";
                    p["tanhApproximation"] = gelu.TanhApproximation;
                    break;
                case MatMulLayer:
                    tag = "MatMul";
                    break;
                case GatherLayer gather:
                    tag = "Gather";
                    p["axis"] = gather.Axis;
                    p["index"] = gather.Index;
                    break;
                case SliceLayer slice:
                    tag = "Slice";
                    p["axis"] = slice.Axis;
                    p["start"] = slice.Start;
                    p["end"] = slice.End;
                    break;
                case NeuronSiteLayer:
                    tag = "NeuronSite";
                    break;
                case BroadcastConstantLayer constant:
                    tag = "BroadcastConstant";
                    p["value"] = tensors.Add(constant.Value);
                    break;
                default:
                    throw new NotSupportedException(
                        $"Layer '{layer.Name}' is a {layer.GetType().FullName}, which spiking package format {SpikingPackage.FormatVersion} cannot store. " +
                        "Add it to the package format (Persistence/LayerCodec.cs) before saving networks that contain it.");
            }
            return new JsonObject
            {
                ["type"] = tag,
                ["name"] = layer.Name,
                ["sourceOpType"] = layer.SourceOpType,
                ["inputs"] = JsonScope.StringsNode(layer.Inputs),
                ["output"] = layer.Output,
                ["parameters"] = p,
            };
        }

        public static Layer Read(JsonScope scope, TensorReader tensors)
        {
            string tag = scope.String("type");
            string name = scope.String("name");
            string op = scope.String("sourceOpType");
            string[] inputs = scope.Strings("inputs");
            string output = scope.String("output");
            JsonScope p = scope.Object("parameters");
            int arity = tag switch
            {
                "Binary" or "MatMul" => 2,
                "Concat" => -1,
                "GradedUnit" => -1,
                _ => 1,
            };
            if (arity > 0 && inputs.Length != arity)
            {
                throw scope.Error($"a {tag} layer takes {arity} input(s); 'inputs' has {inputs.Length}.");
            }
            string input = inputs.Length > 0 ? inputs[0] : string.Empty;
            try
            {
                return tag switch
                {
                    "Conv" => new ConvLayer(name, op, input, output, tensors.Tensor(p, "weight"), tensors.OptionalVector(p, "bias"),
                        Pair(p, "strides"), Quad(p, "pads"), Pair(p, "dilations"), p.Int("group")),
                    "Dense" => new DenseLayer(name, op, input, output, tensors.Tensor(p, "weight"), tensors.OptionalVector(p, "bias")),
                    "BatchNorm" => new BatchNormLayer(name, op, input, output, tensors.Vector(p, "gamma"), tensors.Vector(p, "beta"),
                        tensors.Vector(p, "mean"), tensors.Vector(p, "variance"), p.Float("epsilon")),
                    "ChannelAffine" => new ChannelAffineLayer(name, op, input, output, tensors.Vector(p, "scale"), tensors.Vector(p, "shift")),
                    "Relu" => new ReluLayer(name, op, input, output),
                    "Clip" => new ClipLayer(name, op, input, output, p.Float("min"), p.Float("max")),
                    "Floor" => new FloorLayer(name, op, input, output),
                    "Qcfs" => new QcfsLayer(name, op, input, output, tensors.Vector(p, "lambda"), p.Int("levels")),
                    "Softmax" => new SoftmaxLayer(name, op, input, output, p.Int("axis"), p.Bool("log")),
                    "Pool" => new PoolLayer(name, op, input, output, p.Enum<PoolKind>("kind"), Pair(p, "kernel"), Pair(p, "strides"),
                        Quad(p, "pads"), p.Bool("ceilMode"), p.Bool("countIncludePad")),
                    "GlobalAveragePool" => new GlobalAveragePoolLayer(name, op, input, output),
                    "Binary" => new BinaryLayer(name, op, inputs[0], inputs[1], output, p.Enum<BinaryOp>("op")),
                    "ConstBinary" => new ConstBinaryLayer(name, op, input, output, p.Enum<BinaryOp>("op"), tensors.Tensor(p, "constant"), p.Bool("constantOnLeft")),
                    "Concat" => new ConcatLayer(name, op, inputs, output, p.Int("axis")),
                    "Reshape" => new ReshapeLayer(name, op, input, output, p.Ints("targetShape")),
                    "Transpose" => new TransposeLayer(name, op, input, output, p.Ints("permutation")),
                    "IfNeuron" => new IfNeuronLayer(name, op, input, output, tensors.Vector(p, "threshold"), p.Float("initialMembrane"), p.Enum<ResetMode>("reset")),
                    "MultiThresholdNeuron" => new MultiThresholdNeuronLayer(name, op, input, output, tensors.Vector(p, "threshold"), p.Int("levels"), p.Bool("gated"),
                        p.Enum<FiringRule>("rule"), p.Bool("differential"), tensors.OptionalVector(p, "bias")),
                    "ParallelNeuron" => new ParallelNeuronLayer(name, op, input, output, tensors.Vector(p, "threshold"), tensors.Vector(p, "amplitude"), tensors.Vector(p, "stepShift"), p.Enum<SpikeOrder>("order")),
                    "BitSerialNeuron" => new BitSerialNeuronLayer(name, op, input, output, tensors.Vector(p, "lambda"), p.Int("bits"), p.Bool("shift")),
                    "LayerNorm" => new LayerNormLayer(name, op, input, output, tensors.Vector(p, "scale"), tensors.OptionalVector(p, "bias"), p.Float("epsilon")),
                    "Gelu" => new GeluLayer(name, op, input, output, p.Bool("tanhApproximation")),
                    "MatMul" => new MatMulLayer(name, op, inputs[0], inputs[1], output),
                    "Gather" => new GatherLayer(name, op, input, output, p.Int("axis"), p.Int("index")),
                    "Slice" => new SliceLayer(name, op, input, output, p.Int("axis"), p.Int("start"), p.Int("end")),
                    "NeuronSite" => new NeuronSiteLayer(name, input, output),
                    "BroadcastConstant" => new BroadcastConstantLayer(name, op, input, output, tensors.Tensor(p, "value")),
                    "GradedUnit" => ReadGradedUnit(p, tensors, name, inputs, output),
                    "MaxPoolNeuron" => new MaxPoolNeuronLayer(Nested(p, "pool", tensors, name, inputs, output) as PoolLayer
                        ?? throw p.Error($"layer '{name}' (MaxPoolNeuron) must wrap a Pool layer."), tensors.OptionalVector(p, "bias")),
                    _ => throw scope.Error($"layer '{name}' has type \"{tag}\", which this version of Microsoft.ML.Spiking does not know (known: {string.Join(", ", Tags)})."),
                };
            }
            catch (ArgumentException e)
            {
                throw scope.Error($"layer '{name}' ({tag}) has invalid parameters: {e.Message}", e);
            }
        }

        private static GradedUnitLayer ReadGradedUnit(JsonScope p, TensorReader tensors, string name, string[] inputs, string output)
        {
            Layer function = Nested(p, "function", tensors, name, inputs, output);
            return new GradedUnitLayer(function, Enumerable.Range(0, inputs.Length).Select(i => tensors.OptionalVector(p, $"bias{i}")).ToList());
        }

        /// <summary>A wrapped layer: same name and wiring as its wrapper.</summary>
        private static Layer Nested(JsonScope p, string field, TensorReader tensors, string name, IReadOnlyList<string> inputs, string output)
        {
            Layer inner = Read(p.Object(field), tensors);
            if (inner.Name != name || !inner.Inputs.SequenceEqual(inputs) || inner.Output != output)
            {
                throw p.Error($"layer '{name}' wraps '{inner.Name}' ({string.Join(",", inner.Inputs)} -> {inner.Output}), which is not wired like it ({string.Join(",", inputs)} -> {output}).");
            }
            return inner;
        }

        /// <summary>Conv and pooling index their spatial lists without checking their length, so the reader checks them.</summary>
        private static int[] Pair(JsonScope p, string name) => Sized(p, name, 2);

        private static int[] Quad(JsonScope p, string name) => Sized(p, name, 4);

        private static int[] Sized(JsonScope p, string name, int length)
        {
            int[] values = p.Ints(name);
            return values.Length == length ? values : throw p.Error($"'{name}' must have {length} values; it has {values.Length}.");
        }
    }
}
