//! A small ONNX writer: the part of `onnx.proto` reckon's models need (model,
//! graph, nodes with attributes, float/int64 initialisers, typed inputs and
//! outputs), encoded as protobuf by hand. IR version 8 (ONNX Runtime 1.31 refuses
//! newer IRs than it knows), opset 17 for `ai.onnx` and 3 for `ai.onnx.ml`.
//!
//! Field numbers are those of `onnx/onnx.proto` (ModelProto, GraphProto,
//! NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).

/// Protobuf encoder: one message's bytes.
#[derive(Default, Debug)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }
    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    fn msg(&mut self, field: u32, m: &Msg) {
        self.bytes(field, &m.0);
    }
    fn float(&mut self, field: u32, f: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&f.to_le_bytes());
    }
}

/// Element types used here (`TensorProto.DataType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    Float = 1,
    Int64 = 7,
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Str(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strs(Vec<String>),
}

/// One node of the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, Attr)>,
}

impl Node {
    pub fn new(op: &str, inputs: &[&str], outputs: &[&str]) -> Node {
        Node {
            op: op.into(),
            domain: String::new(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            attrs: Vec::new(),
        }
    }
    pub fn ml(mut self) -> Node {
        self.domain = "ai.onnx.ml".into();
        self
    }
    pub fn attr(mut self, name: &str, a: Attr) -> Node {
        self.attrs.push((name.into(), a));
        self
    }
}

/// A graph with one float input `[N, k]` and float outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    /// (name, dims, values)
    pub float_inits: Vec<(String, Vec<i64>, Vec<f32>)>,
    pub int_inits: Vec<(String, Vec<i64>, Vec<i64>)>,
    /// (name, elem, dims; a negative dim is the symbolic batch size `N`)
    pub inputs: Vec<(String, Elem, Vec<i64>)>,
    pub outputs: Vec<(String, Elem, Vec<i64>)>,
}

fn value_info(name: &str, elem: Elem, dims: &[i64]) -> Msg {
    let mut shape = Msg::default();
    for &d in dims {
        let mut dim = Msg::default();
        if d < 0 {
            dim.str(2, "N");
        } else {
            dim.int(1, d);
        }
        shape.msg(1, &dim);
    }
    let mut tensor = Msg::default();
    tensor.int(1, elem as i64);
    tensor.msg(2, &shape);
    let mut ty = Msg::default();
    ty.msg(1, &tensor);
    let mut vi = Msg::default();
    vi.str(1, name);
    vi.msg(2, &ty);
    vi
}

fn attribute(name: &str, a: &Attr) -> Msg {
    let mut m = Msg::default();
    m.str(1, name);
    match a {
        Attr::Float(f) => {
            m.float(2, *f);
            m.int(20, 1);
        }
        Attr::Int(i) => {
            m.int(3, *i);
            m.int(20, 2);
        }
        Attr::Str(s) => {
            m.str(4, s);
            m.int(20, 3);
        }
        Attr::Floats(v) => {
            v.iter().for_each(|f| m.float(7, *f));
            m.int(20, 6);
        }
        Attr::Ints(v) => {
            v.iter().for_each(|i| m.int(8, *i));
            m.int(20, 7);
        }
        Attr::Strs(v) => {
            v.iter().for_each(|s| m.str(9, s));
            m.int(20, 8);
        }
    }
    m
}

impl Graph {
    /// The serialized `ModelProto`.
    pub fn to_model(&self, producer_version: &str, metadata: &[(&str, &str)]) -> Vec<u8> {
        let mut g = Msg::default();
        for n in &self.nodes {
            let mut node = Msg::default();
            n.inputs.iter().for_each(|i| node.str(1, i));
            n.outputs.iter().for_each(|o| node.str(2, o));
            node.str(4, &n.op);
            for (k, a) in &n.attrs {
                node.msg(5, &attribute(k, a));
            }
            if !n.domain.is_empty() {
                node.str(7, &n.domain);
            }
            g.msg(1, &node);
        }
        g.str(2, &self.name);
        for (name, dims, vals) in &self.float_inits {
            let mut t = Msg::default();
            dims.iter().for_each(|d| t.int(1, *d));
            t.int(2, Elem::Float as i64);
            let mut packed = Vec::with_capacity(vals.len() * 4);
            vals.iter().for_each(|v| packed.extend_from_slice(&v.to_le_bytes()));
            t.str(8, name);
            t.bytes(9, &packed);
            g.msg(5, &t);
        }
        for (name, dims, vals) in &self.int_inits {
            let mut t = Msg::default();
            dims.iter().for_each(|d| t.int(1, *d));
            t.int(2, Elem::Int64 as i64);
            let mut packed = Vec::with_capacity(vals.len() * 8);
            vals.iter().for_each(|v| packed.extend_from_slice(&v.to_le_bytes()));
            t.str(8, name);
            t.bytes(9, &packed);
            g.msg(5, &t);
        }
        for (n, e, d) in &self.inputs {
            g.msg(11, &value_info(n, *e, d));
        }
        for (n, e, d) in &self.outputs {
            g.msg(12, &value_info(n, *e, d));
        }
        let mut m = Msg::default();
        m.int(1, 8); // ir_version
        m.str(2, "reckon");
        m.str(3, producer_version);
        m.msg(7, &g);
        for (domain, version) in [("", 17i64), ("ai.onnx.ml", 3)] {
            let mut op = Msg::default();
            op.str(1, domain);
            op.int(2, version);
            m.msg(8, &op);
        }
        for (k, v) in metadata {
            let mut e = Msg::default();
            e.str(1, k);
            e.str(2, v);
            m.msg(14, &e);
        }
        m.0
    }
}

/// Logistic regression `p = sigmoid(x·w + b)` as ONNX: input `features` [N, k],
/// output `probability` [N, 1].
pub fn logistic(weights: &[f32], intercept: f32) -> Graph {
    let k = weights.len() as i64;
    Graph {
        name: "reckon_logistic".into(),
        nodes: vec![
            Node::new("MatMul", &["features", "w"], &["xw"]),
            Node::new("Add", &["xw", "b"], &["logit"]),
            Node::new("Sigmoid", &["logit"], &["probability"]),
        ],
        float_inits: vec![("w".into(), vec![k, 1], weights.to_vec()), ("b".into(), vec![1], vec![intercept])],
        int_inits: vec![],
        inputs: vec![("features".into(), Elem::Float, vec![-1, k])],
        outputs: vec![("probability".into(), Elem::Float, vec![-1, 1])],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_encode_as_protobuf() {
        let mut m = Msg::default();
        m.int(1, 300);
        assert_eq!(m.0, [0x08, 0xAC, 0x02]);
        let mut m = Msg::default();
        m.str(2, "hi");
        assert_eq!(m.0, [0x12, 2, b'h', b'i']);
        let mut m = Msg::default();
        m.int(3, -1);
        assert_eq!(m.0.len(), 11, "negative int64 is a 10-byte varint");
    }
}
