// Shared by the service_*_test.ts files: the services whose routing and
// exposure they test.
import { expose, Service, ServiceDict } from "../../rpc/mod.ts";

export class Sub {
  @expose({ params: ["a", "b"] })
  mul(a: number, b = 1): number {
    return a * b;
  }
}

class Base {
  @expose
  inheritedExposed(): string {
    return "from base";
  }

  inherited(): string {
    return "hidden in base";
  }
}

export class MathServer extends Base {
  router: Service = new Service(this);
  getterRuns = 0;
  @expose
  sub: Sub = new Sub();
  @expose
  tools: ServiceDict = new ServiceDict({ neg: (x: number) => -x });
  hidden: Sub = new Sub();
  data = 42;

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  async slowAdd(a: number, b: number): Promise<number> {
    await Promise.resolve();
    return a + b;
  }

  @expose
  self(): this {
    return this;
  }

  secret(): string {
    return "no";
  }

  get value(): number {
    this.getterRuns++;
    return 1;
  }
}
