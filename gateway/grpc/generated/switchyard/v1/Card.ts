// Original file: gateway/grpc/switchyard/v1/payments.proto


export interface Card {
  /**
   * 12 to 19 digits, Luhn-valid. Never stored, logged or answered: sealed for the worker at once.
   */
  'number'?: (string);
  'exp_month'?: (number);
  'exp_year'?: (number);
  'cvc'?: (string);
}

export interface Card__Output {
  /**
   * 12 to 19 digits, Luhn-valid. Never stored, logged or answered: sealed for the worker at once.
   */
  'number': (string);
  'exp_month': (number);
  'exp_year': (number);
  'cvc': (string);
}
