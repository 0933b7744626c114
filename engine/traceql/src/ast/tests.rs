//! Property test: random trees print to text that parses back to the same tree.
//!
//! The generator only builds trees the parser can produce (its normalisations: folded
//! negative literals, flat logical runs, no constant-only scalar arithmetic, …).

use super::*;
use crate::lexer::Keyword;
use crate::parse;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    fn string(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'b', 'z', 'A', '0', '9', '_', '.', '-', '/', ':', '*', '+', '%', ' ', '\t', '\n',
            '\r', '"', '\'', '`', '\\', '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^',
            ',', 'µ', 'é', '日', '\u{0}', '\u{7f}', '\u{a0}',
        ];
        let len = self.below(8);
        (0..len).map(|_| self.pick(CHARS)).collect()
    }

    fn name(&mut self) -> String {
        if self.chance(70) {
            self.pick(&[
                "a",
                "http.status_code",
                "service.name",
                "x-y",
                "k8s.pod/name",
                "é",
                "a*2",
            ])
            .to_string()
        } else {
            self.string()
        }
    }

    fn float(&mut self) -> f64 {
        match self.below(6) {
            0 => 0.0,
            1 => (self.next() % 1000) as f64 / 8.0,
            2 => f64::from_bits(self.next() >> 2) % 1e300,
            3 => 1e-7 * (self.below(100) as f64 + 1.0),
            4 => 1e6 * (self.below(100) as f64 + 0.5),
            _ => (self.next() >> 11) as f64,
        }
    }

    fn number(&mut self, negative_ok: bool) -> Static {
        let s = match self.below(4) {
            0 => Static::Int(self.pick(&[0, 1, 7, 42, 1_000_000, i64::MAX])),
            1 => Static::Float(self.float()),
            2 => Static::Duration(self.pick(&[
                0,
                7,
                1_500,
                250_000,
                100_000_000,
                1_500_000_000,
                3_600_000_000_000,
                i64::MAX,
            ])),
            _ => Static::Int((self.next() >> 1) as i64),
        };
        if negative_ok && self.chance(30) {
            crate::parser::negate(s)
        } else {
            s
        }
    }

    fn static_value(&mut self, negative_ok: bool) -> Static {
        match self.below(7) {
            0 | 1 => self.number(negative_ok),
            2 => Static::String(self.string()),
            3 => Static::Bool(self.chance(50)),
            4 => self.pick(&[
                Static::Status(Status::Ok),
                Static::Status(Status::Error),
                Static::Status(Status::Unset),
            ]),
            5 => self.pick(&[
                Static::Kind(SpanKind::Unspecified),
                Static::Kind(SpanKind::Internal),
                Static::Kind(SpanKind::Server),
                Static::Kind(SpanKind::Client),
                Static::Kind(SpanKind::Producer),
                Static::Kind(SpanKind::Consumer),
            ]),
            _ => Static::Int(if negative_ok { i64::MIN } else { 3 }),
        }
    }

    fn field_ref(&mut self) -> FieldRef {
        if self.chance(40) {
            return FieldRef::Intrinsic(self.pick(&[
                Intrinsic::Duration,
                Intrinsic::Name,
                Intrinsic::Status,
                Intrinsic::StatusMessage,
                Intrinsic::Kind,
                Intrinsic::ChildCount,
                Intrinsic::SpanId,
                Intrinsic::ParentId,
                Intrinsic::TraceDuration,
                Intrinsic::TraceRootName,
                Intrinsic::TraceRootService,
                Intrinsic::TraceId,
                Intrinsic::EventName,
                Intrinsic::EventTimeSinceStart,
                Intrinsic::LinkTraceId,
                Intrinsic::LinkSpanId,
                Intrinsic::InstrumentationName,
                Intrinsic::InstrumentationVersion,
                Intrinsic::NestedSetLeft,
                Intrinsic::NestedSetRight,
                Intrinsic::NestedSetParent,
                Intrinsic::Parent,
            ]));
        }
        let scope = self.pick(&[
            AttributeScope::Unscoped,
            AttributeScope::Span,
            AttributeScope::Resource,
            AttributeScope::Event,
            AttributeScope::Link,
            AttributeScope::Instrumentation,
        ]);
        let parent = matches!(
            scope,
            AttributeScope::Unscoped | AttributeScope::Span | AttributeScope::Resource
        ) && self.chance(15);
        let mut name = self.name();
        if parent && scope == AttributeScope::Unscoped && self.chance(30) {
            name = format!("span.{name}");
        }
        FieldRef::Attribute(Attribute {
            scope,
            parent,
            name,
        })
    }

    fn field(&mut self, depth: u32) -> FieldExpr {
        if depth == 0 || self.chance(25) {
            return if self.chance(50) {
                FieldExpr::Static(self.static_value(true))
            } else {
                self.field_ref().into()
            };
        }
        match self.below(4) {
            0 => {
                let op = self.pick(&[
                    UnaryOp::Neg,
                    UnaryOp::Not,
                    UnaryOp::Exists,
                    UnaryOp::NotExists,
                ]);
                let mut expr = self.field(depth - 1);
                if op == UnaryOp::Neg && matches!(&expr, FieldExpr::Static(s) if s.is_numeric()) {
                    expr = FieldExpr::Static(Static::String("x".into()));
                }
                FieldExpr::Unary {
                    op,
                    expr: Box::new(expr),
                }
            }
            1 | 2 => FieldExpr::Binary {
                op: self.pick(&[
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::Mod,
                    BinaryOp::Pow,
                    BinaryOp::Eq,
                    BinaryOp::Neq,
                    BinaryOp::Lt,
                    BinaryOp::Lte,
                    BinaryOp::Gt,
                    BinaryOp::Gte,
                    BinaryOp::Regex,
                    BinaryOp::NotRegex,
                ]),
                lhs: Box::new(self.field(depth - 1)),
                rhs: Box::new(self.field(depth - 1)),
            },
            _ => {
                let op = self.pick(&[LogicalOp::And, LogicalOp::Or]);
                let n = 2 + self.below(3);
                let operands = (0..n)
                    .map(|i| {
                        loop {
                            let e = self.field(depth - 1);
                            let same = matches!(&e, FieldExpr::Logical { op: o, .. } if *o == op);
                            if !(i == 0 && same) {
                                break e;
                            }
                        }
                    })
                    .collect();
                FieldExpr::Logical { op, operands }
            }
        }
    }

    fn filter(&mut self, depth: u32) -> SpansetFilter {
        SpansetFilter {
            expr: self.field(depth),
        }
    }

    fn spansets(
        &mut self,
        depth: u32,
        leaf: &mut dyn FnMut(&mut Gen) -> SpansetExpr,
    ) -> SpansetExpr {
        if depth == 0 || self.chance(40) {
            return leaf(self);
        }
        if self.chance(50) {
            let op = self.pick(&[LogicalOp::And, LogicalOp::Or]);
            let n = 2 + self.below(3);
            let operands = (0..n)
                .map(|i| {
                    loop {
                        let e = self.spansets(depth - 1, leaf);
                        let same = matches!(&e, SpansetExpr::Logical { op: o, .. } if *o == op);
                        if !(i == 0 && same) {
                            break e;
                        }
                    }
                })
                .collect();
            SpansetExpr::Logical { op, operands }
        } else {
            SpansetExpr::Structural {
                op: self.pick(&[
                    StructuralOp::Child,
                    StructuralOp::Parent,
                    StructuralOp::Descendant,
                    StructuralOp::Ancestor,
                    StructuralOp::Sibling,
                    StructuralOp::NotChild,
                    StructuralOp::NotParent,
                    StructuralOp::NotDescendant,
                    StructuralOp::NotAncestor,
                    StructuralOp::NotSibling,
                    StructuralOp::UnionChild,
                    StructuralOp::UnionParent,
                    StructuralOp::UnionDescendant,
                    StructuralOp::UnionAncestor,
                    StructuralOp::UnionSibling,
                ]),
                lhs: Box::new(self.spansets(depth - 1, leaf)),
                rhs: Box::new(self.spansets(depth - 1, leaf)),
            }
        }
    }

    fn aggregate(&mut self, depth: u32) -> Aggregate {
        let op = self.pick(&[
            AggregateOp::Count,
            AggregateOp::Avg,
            AggregateOp::Min,
            AggregateOp::Max,
            AggregateOp::Sum,
        ]);
        let expr = (op != AggregateOp::Count).then(|| self.field(depth));
        Aggregate { op, expr }
    }

    /// Arithmetic that contains at least one aggregate (constants alone would fold).
    fn scalar(&mut self, depth: u32) -> ScalarExpr {
        if depth == 0 || self.chance(40) {
            return ScalarExpr::Aggregate(self.aggregate(2));
        }
        let op = self.pick(&[
            ArithOp::Add,
            ArithOp::Sub,
            ArithOp::Mul,
            ArithOp::Div,
            ArithOp::Mod,
            ArithOp::Pow,
        ]);
        let (lhs, rhs) = match self.below(3) {
            0 => (
                ScalarExpr::Static(self.number(true)),
                self.scalar(depth - 1),
            ),
            1 => (
                self.scalar(depth - 1),
                ScalarExpr::Static(self.number(true)),
            ),
            _ => (self.scalar(depth - 1), self.scalar(depth - 1)),
        };
        ScalarExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    fn cmp(&mut self) -> CmpOp {
        self.pick(&[
            CmpOp::Eq,
            CmpOp::Neq,
            CmpOp::Lt,
            CmpOp::Lte,
            CmpOp::Gt,
            CmpOp::Gte,
        ])
    }

    fn scalar_filter(&mut self) -> ScalarFilter {
        let (lhs, rhs) = match self.below(3) {
            0 => (self.scalar(2), ScalarExpr::Static(self.number(true))),
            1 => (ScalarExpr::Static(self.number(true)), self.scalar(2)),
            _ => (self.scalar(2), self.scalar(2)),
        };
        ScalarFilter {
            op: self.cmp(),
            lhs,
            rhs,
        }
    }

    fn stage(&mut self, first: bool) -> Stage {
        match self.below(if first { 4 } else { 5 }) {
            0 => Stage::Spanset(self.spansets(3, &mut |g| SpansetExpr::Filter(g.filter(3)))),
            1 => Stage::ScalarFilter(self.scalar_filter()),
            2 => Stage::GroupBy(self.field(3)),
            3 => Stage::Select((0..1 + self.below(3)).map(|_| self.field_ref()).collect()),
            _ => Stage::Coalesce,
        }
    }

    fn pipeline(&mut self) -> Pipeline {
        let n = 1 + self.below(3);
        Pipeline {
            stages: (0..n).map(|i| self.stage(i == 0)).collect(),
        }
    }

    /// A pipeline that is a valid leaf of a pipeline expression.
    fn leaf_pipeline(&mut self) -> Pipeline {
        loop {
            let p = self.pipeline();
            if p.stages.len() > 1 || !matches!(p.stages[0], Stage::Spanset(_)) {
                return p;
            }
        }
    }

    fn second_stages(&mut self) -> Vec<SecondStage> {
        (0..self.below(3))
            .map(|_| match self.below(3) {
                0 => SecondStage::TopK(self.below(20) as i64),
                1 => SecondStage::BottomK(self.below(20) as i64),
                _ => SecondStage::Filter {
                    op: self.cmp(),
                    value: if self.chance(50) {
                        self.float()
                    } else {
                        -self.float()
                    },
                },
            })
            .collect()
    }

    fn metrics_function(&mut self) -> MetricsFunction {
        let op = match self.below(9) {
            0 => MetricsOp::Rate,
            1 => MetricsOp::CountOverTime,
            2 => MetricsOp::MinOverTime(self.field_ref()),
            3 => MetricsOp::MaxOverTime(self.field_ref()),
            4 => MetricsOp::AvgOverTime(self.field_ref()),
            5 => MetricsOp::SumOverTime(self.field_ref()),
            6 => MetricsOp::HistogramOverTime(self.field_ref()),
            7 => MetricsOp::QuantileOverTime {
                field: self.field_ref(),
                quantiles: (0..1 + self.below(3)).map(|_| self.float()).collect(),
            },
            _ => {
                return MetricsFunction {
                    op: MetricsOp::Compare {
                        filter: self.filter(2),
                        top_n: self.pick(&[10, 0, 5]),
                        start_ns: self.pick(&[0, 17]),
                        end_ns: self.pick(&[0, 99]),
                    },
                    by: Vec::new(),
                };
            }
        };
        let by = (0..self.below(3)).map(|_| self.field_ref()).collect();
        MetricsFunction { op, by }
    }

    fn metrics(&mut self, depth: u32) -> MetricsExpr {
        if depth == 0 || self.chance(40) {
            return MetricsExpr::Query(Box::new(MetricsQuery {
                pipeline: self.pipeline(),
                function: self.metrics_function(),
                stages: self.second_stages(),
            }));
        }
        let op = self.pick(&[MathOp::Add, MathOp::Sub, MathOp::Mul, MathOp::Div]);
        if self.chance(50) {
            MetricsExpr::Math {
                op,
                lhs: Box::new(self.metrics(depth - 1)),
                rhs: Box::new(self.metrics(depth - 1)),
            }
        } else {
            MetricsExpr::Scalar {
                op,
                value: if self.chance(50) {
                    self.float()
                } else {
                    -self.float()
                },
                expr: Box::new(self.metrics(depth - 1)),
                scalar_on_left: self.chance(50),
            }
        }
    }

    fn query(&mut self) -> Query {
        let body = match self.below(4) {
            0 => {
                let expr = self.spansets(3, &mut |g| {
                    SpansetExpr::Pipeline(Box::new(g.leaf_pipeline()))
                });
                match expr {
                    SpansetExpr::Pipeline(p) => QueryBody::Search(*p),
                    e => QueryBody::Search(Pipeline {
                        stages: vec![Stage::Spanset(e)],
                    }),
                }
            }
            1 => QueryBody::Search(self.pipeline()),
            _ => {
                let m = self.metrics(3);
                let stages = if matches!(m, MetricsExpr::Query(_)) {
                    Vec::new()
                } else {
                    self.second_stages()
                };
                QueryBody::Metrics(if stages.is_empty() {
                    m
                } else {
                    MetricsExpr::Staged {
                        expr: Box::new(m),
                        stages,
                    }
                })
            }
        };
        let hints = (0..self.below(3))
            .map(|_| Hint {
                name: self
                    .pick(&["sample", "most_recent", "x_1", "debug"])
                    .to_string(),
                value: self.static_value(false),
            })
            .collect();
        Query {
            body,
            hints: Hints { hints },
        }
    }
}

#[test]
fn random_trees_round_trip() {
    let mut g = Gen(0x5eed_1234_abcd_ef01);
    for _ in 0..5_000 {
        let q = g.query();
        let text = q.to_string();
        match parse(&text) {
            Ok(back) => assert_eq!(back, q, "printed as {text}"),
            Err(e) => panic!("{text}\n{e}\n{q:?}"),
        }
    }
}

#[test]
fn tempo_text_wraps_operands() {
    let q = parse("{ true } | by(3 * .field - 2) | avg(-.a * 2 + .b) > 1").expect("parses");
    let QueryBody::Search(p) = q.body else {
        panic!("search")
    };
    let Stage::GroupBy(e) = &p.stages[1] else {
        panic!("by")
    };
    assert_eq!(e.tempo_string(), "(3 * .field) - 2");
    assert_eq!(e.to_string(), "3 * .field - 2");
    let e = crate::parse("{ .a || .b || .c && .d != nil }").expect("parses");
    let QueryBody::Search(p) = e.body else {
        panic!("search")
    };
    let Stage::Spanset(SpansetExpr::Filter(f)) = &p.stages[0] else {
        panic!("filter")
    };
    assert_eq!(f.expr.tempo_string(), "((.a || .b) || .c) && (.d != nil)");
    assert_eq!(f.expr.to_string(), ".a || .b || .c && .d != nil");
    // keywords are not identifiers, so hint names never collide with them
    assert!(Keyword::from_word("sample").is_none());
}
