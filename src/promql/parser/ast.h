// The PromQL abstract syntax tree.
//
// The parser (parser.h) builds these nodes; the printer turns them back into PromQL text
// and the engine (engine.h) evaluates them. Node names follow Prometheus's vocabulary
// (VectorSelector, MatrixSelector, SubqueryExpr, AggregateExpr, BinaryExpr, Call) so that
// readers of its documentation find their way.
//
// Positions are byte offsets into the query text, [start, end). Every node owns its
// children through unique_ptr; a tree is immutable once the parser returns it.
//
// Thread-safety: a finished tree is read-only and may be shared across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/labels.h"
#include "model/matcher.h"

namespace vigil::promql {

enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };

// "scalar", "instant vector", "range vector", "string", as in Prometheus's messages.
const char* ValueTypeName(ValueType t);

struct PosRange {
  int start = 0;
  int end = 0;
};

enum class NodeKind {
  kNumberLiteral,
  kStringLiteral,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kCall,
  kAggregate,
};

// Binary and unary operators, aggregation operators.
enum class Op {
  kAdd, kSub, kMul, kDiv, kMod, kPow, kAtan2,
  kEql, kNeq, kGtr, kLss, kGte, kLte,
  kAnd, kOr, kUnless,
  // Native-histogram trimming (`h </ x` keeps observations below x, `h >/ x` above);
  // on floats they act like the histogram of one observation.
  kTrimUpper, kTrimLower,
  // Aggregations.
  kSum, kAvg, kCount, kMin, kMax, kGroup, kStddev, kStdvar, kTopk, kBottomk,
  kCountValues, kQuantile, kLimitk, kLimitRatio,
};

const char* OpName(Op op);
bool IsComparisonOp(Op op);
bool IsSetOp(Op op);

struct Expr {
  explicit Expr(NodeKind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  // The type this node evaluates to.
  ValueType Type() const;

  NodeKind kind;
  PosRange pos;
};

using ExprPtr = std::unique_ptr<Expr>;

// A time span in a selector, subquery or offset: either a constant known at parse time,
// or a duration expression such as `2m*15` or `step()` resolved when the query runs
// (its value in seconds, converted to milliseconds).
struct Duration {
  int64_t ms = 0;
  ExprPtr expr;  // non-null for duration expressions
  bool set = false;
};

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(NodeKind::kNumberLiteral) {}
  double val = 0;
  // Written as a duration ("5m"), printed back the same way.
  bool duration = false;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(NodeKind::kStringLiteral) {}
  std::string val;
};

// Which end of a range query an `@ start()` / `@ end()` refers to.
enum class AtPreproc { kNone, kStart, kEnd };

struct VectorSelector : Expr {
  VectorSelector() : Expr(NodeKind::kVectorSelector) {}
  std::string name;  // metric name if given outside the braces (or quoted inside them)
  model::Matchers matchers;  // including __name__ if a name was given
  Duration offset;
  std::optional<int64_t> at;  // @ timestamp in ms
  AtPreproc at_preproc = AtPreproc::kNone;
  // Extended range-selector modifiers (experimental upstream): parsed, not evaluated yet.
  bool anchored = false;
  bool smoothed = false;
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(NodeKind::kMatrixSelector) {}
  ExprPtr vs;  // always a VectorSelector
  Duration range;
  VectorSelector& selector() const { return static_cast<VectorSelector&>(*vs); }
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(NodeKind::kSubquery) {}
  ExprPtr expr;
  Duration range;
  Duration step;  // not set: the engine's default subquery step
  Duration offset;
  std::optional<int64_t> at;
  AtPreproc at_preproc = AtPreproc::kNone;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(NodeKind::kParen) {}
  ExprPtr expr;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(NodeKind::kUnary) {}
  Op op = Op::kSub;  // kSub or kAdd
  ExprPtr expr;
};

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> matching_labels;
  bool on = false;  // on(...) given (possibly empty); otherwise ignoring(...)
  std::vector<std::string> include;  // group_left/group_right labels
  // fill(v) / fill_left(v) / fill_right(v) (experimental upstream): the value that stands
  // in for a missing sample on that side.
  std::optional<double> fill_left, fill_right;
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(NodeKind::kBinary) {}
  Op op = Op::kAdd;
  ExprPtr lhs, rhs;
  bool return_bool = false;
  // Set when both sides are vectors (or a modifier was written).
  std::optional<VectorMatching> matching;
};

struct Function;  // functions.h

struct Call : Expr {
  Call() : Expr(NodeKind::kCall) {}
  const Function* func = nullptr;
  std::vector<ExprPtr> args;
};

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(NodeKind::kAggregate) {}
  Op op = Op::kSum;
  ExprPtr expr;
  ExprPtr param;  // topk k, quantile q, count_values label, limitk k, limit_ratio r
  std::vector<std::string> grouping;
  bool without = false;
};

}  // namespace vigil::promql
